"""Reading a VC API status update (`POST /credentials/status`) in the shapes deployed software sends.

- VCALM: ``{credentialId, credentialStatus: {type, statusPurpose, …}, status: true|false}``; ``true`` sets
  the purpose's bit (revoke, suspend), ``false`` clears it (reinstate; a revocation cannot be cleared).
- Digital Credentials Consortium: ``{credentialId, credentialStatus: [{type, status: "revoked" |
  "suspended" | "unsuspended"}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ec_issuer.core.encoding import JsonObject
from ec_issuer.core.errors import FieldError, MalformedInput
from ec_issuer.status.model import LifecycleAction
from ec_issuer.vc_api.shape import require_object, required_member

_ENTRY_TYPES = ("BitstringStatusListEntry", "StatusList2021Entry", "StatusList2021Credential")
_DCC_STATUS = {
    "revoked": LifecycleAction.REVOKE,
    "suspended": LifecycleAction.SUSPEND,
    "unsuspended": LifecycleAction.REINSTATE,
}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    credential_id: str
    action: LifecycleAction


def parse_status_update(body: JsonObject) -> StatusUpdate:
    credential_id = required_member(body, "credentialId")
    if not isinstance(credential_id, str) or not credential_id:
        raise _malformed("/credentialId", "must be the credential's id (a non-empty string)")
    status = required_member(body, "credentialStatus")
    if isinstance(status, list):
        entries = cast(list[Any], status)
        if len(entries) != 1:
            raise _malformed("/credentialStatus", "give exactly one status entry")
        entry = require_object(entries[0], "/credentialStatus/0", "credentialStatus[0]")
        return StatusUpdate(credential_id, _dcc_action(entry) if "status" in entry else _vcalm_action(body, entry))
    entry = require_object(status, "/credentialStatus", "credentialStatus")
    return StatusUpdate(credential_id, _vcalm_action(body, entry))


def _vcalm_action(body: JsonObject, entry: JsonObject) -> LifecycleAction:
    _check_type(entry)
    purpose = entry.get("statusPurpose")
    if purpose not in ("revocation", "suspension"):
        raise _malformed("/credentialStatus/statusPurpose", "must be revocation or suspension")
    value = required_member(body, "status")
    if not isinstance(value, bool):
        raise _malformed("/status", "must be true (set the status) or false (clear it)")
    if purpose == "revocation":
        # Clearing a revocation is asked of the state machine, which refuses it (409) unless it is a no-op.
        return LifecycleAction.REVOKE if value else LifecycleAction.REINSTATE
    return LifecycleAction.SUSPEND if value else LifecycleAction.REINSTATE


def _dcc_action(entry: JsonObject) -> LifecycleAction:
    _check_type(entry)
    action = _DCC_STATUS.get(str(entry.get("status")))
    if action is None:
        raise _malformed("/credentialStatus/0/status", "must be revoked, suspended or unsuspended")
    return action


def _check_type(entry: JsonObject) -> None:
    if entry.get("type") not in _ENTRY_TYPES:
        raise _malformed("/credentialStatus/type", f"must be one of {', '.join(_ENTRY_TYPES)}")


def _malformed(pointer: str, detail: str) -> MalformedInput:
    return MalformedInput(f"the status update is not valid: {pointer} {detail}", [FieldError(pointer, detail)])
