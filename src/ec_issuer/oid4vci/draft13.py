"""The draft-13 compatibility layer of the credential endpoint (docs/oid4vci.md).

Wallets still on OID4VCI draft 13 (Sphereon's libraries, walt.id's web wallet, the UniCore agent) send
`format` with `credential_definition` instead of `credential_configuration_id`, and one `proof` object
instead of `proofs`; they expect one `credential` and a fresh `c_nonce` back. A request in that shape is
translated to the 1.0 request before anything else, and its answer back to the draft-13 response; a 1.0
request never takes this path. The choice is made on the request's shape, as the 1.0 members are
unambiguous. A format names a generic configuration; the issuer then hands out any award of the offer in that
format, credential templates' included.
"""

from __future__ import annotations

from typing import Any, cast

from ec_issuer.oid4vci.configurations import CONFIGURATIONS, OB3_TYPES
from ec_issuer.oid4vci.errors import ProtocolError, invalid_credential_request, invalid_proof

_BY_FORMAT = {configuration.format: configuration.id for configuration in CONFIGURATIONS.values()}
_OB3_SPECIFIC = set(OB3_TYPES) - {"VerifiableCredential"} | {"OpenBadgeCredential"}


def is_draft13(request: dict[str, Any]) -> bool:
    one_dot_zero = {"credential_configuration_id", "credential_identifier", "proofs"} & request.keys()
    return not one_dot_zero and ("format" in request or "proof" in request)


def translate(request: dict[str, Any]) -> dict[str, Any]:
    """The 1.0 request a draft-13 request stands for."""
    format_: object = request.get("format")
    if not isinstance(format_, str):
        raise invalid_credential_request("a draft-13 request needs a format")
    configuration_id = _BY_FORMAT.get(format_)
    if configuration_id is None:
        raise ProtocolError("unsupported_credential_format", f"format must be one of {', '.join(_BY_FORMAT)}")
    definition: object = request.get("credential_definition")
    if definition is not None:
        types: object = cast(dict[str, Any], definition).get("type") if isinstance(definition, dict) else None
        if not isinstance(types, list) or not _OB3_SPECIFIC & {str(t) for t in cast(list[object], types)}:
            raise ProtocolError("unsupported_credential_type", "credential_definition.type must name an Open Badge")
    translated: dict[str, Any] = {"credential_configuration_id": configuration_id}
    proof: object = request.get("proof")
    if proof is not None:
        fields = cast(dict[str, Any], proof) if isinstance(proof, dict) else {}
        if fields.get("proof_type") != "jwt" or not isinstance(fields.get("jwt"), str):
            raise invalid_proof('proof must be {"proof_type": "jwt", "jwt": <the proof JWT>}')
        translated["proofs"] = {"jwt": [fields["jwt"]]}
    return translated


def response(body: dict[str, Any], c_nonce: str, c_nonce_expires_in: int) -> dict[str, Any]:
    """The draft-13 credential response for a 1.0 one: one `credential`, and the next `c_nonce`."""
    answer: dict[str, Any] = {"c_nonce": c_nonce, "c_nonce_expires_in": c_nonce_expires_in}
    credentials = cast(list[dict[str, Any]], body.get("credentials") or [])
    if credentials:
        answer["credential"] = credentials[0]["credential"]
    for member in ("transaction_id", "notification_id"):
        if member in body:
            answer[member] = body[member]
    return answer
