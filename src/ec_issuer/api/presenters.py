"""How domain objects look on the wire. One function per representation, used by every route."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ec_issuer.access.model import ApiClient
from ec_issuer.attestations.model import AttestationOutcome, OrganizationPrivacy
from ec_issuer.core.encoding import format_datetime, loads
from ec_issuer.credentials.model import IssuedCredential
from ec_issuer.credentials.verifying import Verification
from ec_issuer.issuers.model import DidWebLayout, Issuer
from ec_issuer.keys.model import SigningKey
from ec_issuer.oid4vci.templates import CredentialTemplate
from ec_issuer.status.model import LifecycleEvent
from ec_issuer.status.service import LifecycleOutcome


def _time(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment else None


def credential_summary(credential: IssuedCredential, now: datetime) -> dict[str, Any]:
    return {
        "id": credential.id,
        "issuer": credential.issuer_slug,
        "family": credential.family,
        "format": credential.format,
        "formatVersion": credential.format_version,
        "status": credential.effective_status(now).value,
        "issuedAt": format_datetime(credential.issued_at),
        "validFrom": _time(credential.valid_from),
        "validUntil": _time(credential.valid_until),
        "kid": credential.kid,
        "achievementId": credential.achievement_id,
        "companionId": credential.companion_id,
    }


def credential_full(credential: IssuedCredential, now: datetime) -> dict[str, Any]:
    return {
        **credential_summary(credential, now),
        "credential": loads(credential.payload),
        "jws": credential.jws,
    }


def issuer_out(issuer: Issuer, layout: DidWebLayout) -> dict[str, Any]:
    base = layout.base_url
    return {
        "id": issuer.slug,
        "did": issuer.did,
        "name": issuer.name,
        "url": issuer.url,
        "email": issuer.email,
        "root": issuer.is_root,
        "defaultFormat": issuer.default_format,
        "statusPurposes": list(issuer.status_purposes),
        "didDocument": base + layout.document_path(issuer.slug, is_root=issuer.is_root)
        if issuer.uses_did_web
        else None,
        "jwks": base + layout.jwks_path(issuer.slug),
    }


def key_out(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "fragment": key.fragment,
        "algorithm": key.algorithm.value,
        "state": key.state.value,
        "backend": key.custody,
        "createdAt": _time(key.created_at),
        "activatedAt": _time(key.activated_at),
        "retiredAt": _time(key.retired_at),
        "revokedAt": _time(key.revoked_at),
        "revocationReason": key.revocation_reason,
        "publicJwk": key.public_jwk,
    }


def template_out(template: CredentialTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "issuer": template.issuer_slug,
        "achievement": template.achievement,
        "name": template.defaults.get("name"),
        "description": template.defaults.get("description"),
        "display": list(template.display),
        "formats": list(template.formats),
        "configurationIds": [configuration.id for configuration in template.configurations],
        "createdAt": format_datetime(template.created_at),
        "updatedAt": format_datetime(template.updated_at),
    }


def client_out(client: ApiClient, token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "issuers": list(client.issuer_scope) if client.issuer_scope is not None else None,
        "achievements": list(client.achievement_scope) if client.achievement_scope is not None else None,
        "admin": client.is_admin,
    }
    if token is not None:
        body["token"] = token
    return body


def verification_out(result: Verification) -> dict[str, Any]:
    def outcome(passed: bool | None) -> str:
        return "skipped" if passed is None else ("passed" if passed else "failed")

    return {
        "verified": result.verified,
        "checks": [{"check": c.name, "result": outcome(c.passed), "detail": c.detail} for c in result.checks],
        "credentialId": result.credential_id,
        "issuer": result.issuer,
        "status": result.status,
        "errors": result.errors,
        "credential": result.credential,
    }


def lifecycle_change_out(outcome: LifecycleOutcome, now: datetime) -> dict[str, Any]:
    return {
        **credential_summary(outcome.credential, now),
        "changed": outcome.changed,
        "previousStatus": outcome.transition.from_status.value,
    }


def history_out(credential_id: str, events: list[LifecycleEvent]) -> dict[str, Any]:
    return {"id": credential_id, "events": [lifecycle_event_out(e) for e in events]}


def lifecycle_event_out(event: LifecycleEvent) -> dict[str, Any]:
    return {
        "event": event.event.value,
        "fromStatus": event.from_status.value if event.from_status else None,
        "toStatus": event.to_status.value,
        "actor": event.actor_client_id,
        "at": format_datetime(event.at),
        "reasonCode": event.reason_code.value if event.reason_code else None,
        "reason": event.reason,
    }


def attestation_out(outcome: AttestationOutcome, verification_url: str | None, now: datetime) -> dict[str, Any]:
    credential = outcome.credential
    if credential is None:
        return {"outcome": "skipped", "reason": outcome.skipped_because}
    return {
        "outcome": "issued",
        "replayed": outcome.replayed,
        "credentialId": credential.id,
        "format": credential.format,
        "status": credential.effective_status(now).value,
        "credential": loads(credential.payload),
        "jws": credential.jws,
        "verificationUrl": verification_url,
    }


def organization_privacy_out(privacy: OrganizationPrivacy) -> dict[str, Any]:
    return {
        "id": privacy.organization_id,
        "allowPersonalData": privacy.allow_personal_data,
        "allowFilenames": privacy.allow_filenames,
        "updatedAt": _time(privacy.updated_at),
    }
