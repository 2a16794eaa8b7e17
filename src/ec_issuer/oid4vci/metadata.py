"""Credential Issuer metadata (OID4VCI 1.0 §12.2) and OAuth Authorization Server metadata (RFC 8414).

Each issuer of the deployment is a credential issuer of its own, identified by ``<ISSUER_BASE_URL>/issuers/<slug>``:
one string, built here only, used byte for byte in the metadata, the offers, the proofs' `aud` and the AS
`issuer`. The well-known documents live at the path inserted before the issuer path (RFC 8414, OID4VCI 1.0)
and, for draft-era wallets, appended to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ec_issuer.core.vcdm import VC_V2_CONTEXT
from ec_issuer.credentials.ob3 import OB3_CONTEXT
from ec_issuer.oid4vci.configurations import (
    CONFIGURATIONS,
    FORMATS,
    OB3_TYPES,
    CredentialConfiguration,
    CredentialFormat,
)
from ec_issuer.oid4vci.dpop import DPOP_ALGORITHMS
from ec_issuer.oid4vci.model import AUTHORIZATION_CODE_GRANT, PRE_AUTHORIZED_GRANT
from ec_issuer.oid4vci.proofs import PROOF_ALGORITHMS
from ec_issuer.oid4vci.templates import CredentialTemplate

CREDENTIAL_ISSUER_WELL_KNOWN = "/.well-known/openid-credential-issuer"
AUTHORIZATION_SERVER_WELL_KNOWN = "/.well-known/oauth-authorization-server"
BATCH_SIZE = 10
ACCESS_TOKEN_SECONDS = 300  # OID4VCI §13.7: a bearer token that lives longer must be sender-constrained
GENERIC_DISPLAY = ({"name": "Open Badge", "locale": "en", "description": "An Open Badges 3.0 achievement"},)


@dataclass(frozen=True, slots=True)
class IssuerEndpoints:
    base_url: str  # ISSUER_BASE_URL, without a trailing slash
    # OID4VCI_AUTHORIZATION_SERVER: an external authorization server's issuer identifier, for the authorization
    # code flow; the built-in server keeps serving the pre-authorized code (docs/oid4vci.md).
    external_authorization_server: str | None = None

    def issuer_id(self, slug: str) -> str:
        return f"{self.base_url.rstrip('/')}/issuers/{slug}"

    def authorization_servers(self, slug: str) -> list[str]:
        """`authorization_servers` of the metadata: none when the credential issuer is its own and only one."""
        if self.external_authorization_server is None:
            return []
        return [self.issuer_id(slug), self.external_authorization_server]

    def endpoint(self, slug: str, name: str) -> str:
        return f"{self.issuer_id(slug)}/oid4vci/{name}"

    def offer_uri(self, slug: str, reference: str) -> str:
        return self.endpoint(slug, f"offers/{reference}")


def credential_issuer_metadata(
    endpoints: IssuerEndpoints, slug: str, display_name: str, templates: Sequence[CredentialTemplate] = ()
) -> dict[str, Any]:
    """The metadata of one credential issuer: the generic configurations, then those of its listed templates."""
    issuer_id = endpoints.issuer_id(slug)
    servers = endpoints.authorization_servers(slug)
    return {
        "credential_issuer": issuer_id,
        **({"authorization_servers": servers} if servers else {}),
        "credential_endpoint": endpoints.endpoint(slug, "credential"),
        "nonce_endpoint": endpoints.endpoint(slug, "nonce"),
        "deferred_credential_endpoint": endpoints.endpoint(slug, "deferred"),
        "notification_endpoint": endpoints.endpoint(slug, "notification"),
        "batch_credential_issuance": {"batch_size": BATCH_SIZE},
        "display": [{"name": display_name, "locale": "en"}],
        "credential_configurations_supported": {
            **{
                configuration.id: _configuration_metadata(configuration, GENERIC_DISPLAY)
                for configuration in CONFIGURATIONS.values()
            },
            **{
                configuration.id: _configuration_metadata(configuration, template.display)
                for template in templates
                for configuration in template.configurations
            },
        },
    }


def authorization_server_metadata(endpoints: IssuerEndpoints, slug: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "issuer": endpoints.issuer_id(slug),
        "token_endpoint": endpoints.endpoint(slug, "token"),
        "authorization_endpoint": endpoints.endpoint(slug, "authorize"),
        "pushed_authorization_request_endpoint": endpoints.endpoint(slug, "par"),
        "require_pushed_authorization_requests": True,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "grant_types_supported": [PRE_AUTHORIZED_GRANT, AUTHORIZATION_CODE_GRANT],
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
        # Access tokens are DPoP-bound when the wallet sends a proof (RFC 9449 §5.1).
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
    }
    if endpoints.external_authorization_server is None:
        return metadata
    # The authorization code flow runs at the external server, which authenticates the learner; the built-in
    # one serves the pre-authorized code only (docs/oid4vci.md, "External authorization server").
    return {name: value for name, value in metadata.items() if name not in _AUTHORIZATION_CODE_MEMBERS} | {
        "grant_types_supported": [PRE_AUTHORIZED_GRANT]
    }


_AUTHORIZATION_CODE_MEMBERS = frozenset(
    {
        "authorization_endpoint",
        "pushed_authorization_request_endpoint",
        "require_pushed_authorization_requests",
        "code_challenge_methods_supported",
        "authorization_response_iss_parameter_supported",
        "response_types_supported",
    }
)


def _configuration_metadata(
    configuration: CredentialConfiguration, display: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "format": configuration.format,
        "scope": configuration.id,
        **_FORMAT_MEMBERS[configuration.format],
        # Always present: wallets built on oid4vc-ts (Credo, Paradym) take metadata without it for draft 14.
        "credential_metadata": {"display": list(display), "claims": _CLAIMS},
    }


def _format_members(credential_format: CredentialFormat) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": OB3_TYPES}
    if credential_format.name == "ldp_vc":
        definition = {"@context": [VC_V2_CONTEXT, OB3_CONTEXT], "type": OB3_TYPES}
    return {
        "credential_definition": definition,
        "cryptographic_binding_methods_supported": ["jwk", "did:jwk", "did:key"],
        "credential_signing_alg_values_supported": list(credential_format.signing_algorithms),
        "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}},
    }


# What configurations share is built once and put into every document, which is serialized and never changed:
# with dozens of templates, building it per configuration was most of the cost of a metadata request.
_FORMAT_MEMBERS = {name: _format_members(credential_format) for name, credential_format in FORMATS.items()}
_CLAIMS = [
    {"path": ["name"], "display": [{"name": "Name", "locale": "en"}]},
    {"path": ["credentialSubject", "achievement", "name"], "display": [{"name": "Achievement", "locale": "en"}]},
    {
        "path": ["credentialSubject", "achievement", "description"],
        "display": [{"name": "Description", "locale": "en"}],
    },
    {"path": ["issuer", "name"], "display": [{"name": "Issued by", "locale": "en"}]},
    {"path": ["validFrom"], "display": [{"name": "Valid from", "locale": "en"}]},
]
