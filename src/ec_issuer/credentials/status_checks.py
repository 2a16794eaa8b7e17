"""Status checks a verifier makes from published lists (Bitstring Status List v1.0 §3.2, Token Status
List §8): retrieve the list, verify its signature and issuer, check purpose and length, read the entry.

A list that cannot be retrieved or verified makes the status *unknown*, which never counts as valid.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ec_issuer.core.encoding import dumps_canonical, loads
from ec_issuer.core.vcdm import issuer_id as document_issuer
from ec_issuer.keys.resolution import KeyResolver
from ec_issuer.signing.data_integrity.verifier import DataIntegrityVerifier
from ec_issuer.signing.jose import VC_JWT_MEDIA_TYPE, CompactJws, MalformedJws, parse_compact, verify_signature
from ec_issuer.status.bitstring import BitstringStatusList
from ec_issuer.status.lists import BITSTRING_CREDENTIAL_TYPE, BITSTRING_ENTRY_TYPE
from ec_issuer.status.ports import StatusListSource, StatusListUnavailable
from ec_issuer.status.publication import STATUS_LIST_JWT_MEDIA_TYPE, STATUS_LIST_JWT_TYP
from ec_issuer.status.token_status_list import TokenStatus, TokenStatusList

MAX_STATUS_ENTRIES = 8  # more entries than this in one credential is refused, not fetched
_PURPOSES = ("revocation", "suspension")
_BITSTRING_ACCEPT = f"{VC_JWT_MEDIA_TYPE}, application/vc;q=0.9, application/json;q=0.8"
_TOKEN_OUTCOMES: dict[int, tuple[str, str]] = {
    TokenStatus.VALID: ("clear", "VALID"),
    TokenStatus.INVALID: ("revoked", "INVALID"),
    TokenStatus.SUSPENDED: ("suspended", "SUSPENDED"),
}


@dataclass(frozen=True, slots=True)
class StatusFinding:
    """What one status entry says: ``clear``, ``revoked``, ``suspended`` or ``unknown`` (with why)."""

    source: str  # "revocation", "suspension" or "token"
    outcome: str
    detail: str


class _Unknown(Exception):
    pass


class VerifiedListSignatures:
    """The outcome of checking a status list token's signature, remembered by token and public key.

    Every verification of an issuer's credentials reads the same few lists, and a list is signed again
    only when it is republished, so without this most of a status check is the same signature checked over
    and over. Checking given bytes under a given public key always gives the same answer, so remembering it
    is safe; whether that key may still be trusted (revoked, or another issuer's) is decided on every call,
    before this is asked. Bounded: the least recently used outcome is forgotten first."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._outcomes: OrderedDict[tuple[str, bytes], bool] = OrderedDict()
        self._lock = threading.Lock()

    def verifies(self, token: str, jws: CompactJws, jwk: dict[str, Any]) -> bool:
        key = (token, dumps_canonical(jwk))
        with self._lock:
            known = self._outcomes.get(key)
            if known is not None:
                self._outcomes.move_to_end(key)
                return known
        outcome = verify_signature(jws, jwk)
        with self._lock:
            self._outcomes[key] = outcome
            if len(self._outcomes) > self._capacity:
                self._outcomes.popitem(last=False)
        return outcome


class StatusListChecker:
    def __init__(
        self,
        source: StatusListSource,
        keys: KeyResolver,
        proofs: DataIntegrityVerifier,
        signatures: VerifiedListSignatures | None = None,
    ) -> None:
        self._source = source
        self._keys = keys
        self._proofs = proofs
        self._signatures = signatures or VerifiedListSignatures()

    def resolving_with(self, keys: KeyResolver) -> StatusListChecker:
        """The same checker, resolving keys through ``keys`` (one verification's ResolvedOnce)."""
        return StatusListChecker(self._source, keys, DataIntegrityVerifier(keys), self._signatures)

    def bitstring_findings(
        self, credential: dict[str, Any], issuer_id: str | None, now: datetime
    ) -> list[StatusFinding]:
        entries = credential.get("credentialStatus")
        if entries is None:
            return []
        listed = cast(list[Any], entries) if isinstance(entries, list) else [entries]
        if len(listed) > MAX_STATUS_ENTRIES:
            return [StatusFinding("credentialStatus", "unknown", f"more than {MAX_STATUS_ENTRIES} entries")]
        findings: list[StatusFinding] = []
        for entry in listed:
            if isinstance(entry, dict) and cast(dict[str, Any], entry).get("type") == BITSTRING_ENTRY_TYPE:
                findings.append(self._bitstring(cast(dict[str, Any], entry), issuer_id, now))
        return findings

    def token_finding(self, claims: dict[str, Any], issuer_id: str | None) -> StatusFinding | None:
        """What the Token Status List says of a JWT with a ``status`` claim; None without one."""
        if claims.get("status") is None:
            return None
        try:
            uri, value = self._token_value(claims["status"], issuer_id)
        except StatusListUnavailable as exc:
            return StatusFinding("token", "unknown", f"list unavailable: {exc}")
        except (_Unknown, ValueError, IndexError) as exc:
            return StatusFinding("token", "unknown", str(exc))
        outcome, name = _TOKEN_OUTCOMES.get(value, ("unknown", f"application-specific value {value:#04x}"))
        return StatusFinding("token", outcome, f"{name} in {uri}")

    def _token_value(self, status: object, issuer_id: str | None) -> tuple[str, int]:
        reference = cast(dict[str, Any], status).get("status_list") if isinstance(status, dict) else None
        if not isinstance(reference, dict):
            raise _Unknown("the status claim has no status_list reference")
        reference = cast(dict[str, Any], reference)
        index, uri = reference.get("idx"), reference.get("uri")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0 or not isinstance(uri, str):
            raise _Unknown("status_list needs a non-negative integer idx and a uri")
        fetched = self._source.fetch(uri, STATUS_LIST_JWT_MEDIA_TYPE)
        list_claims = cast(
            dict[str, Any], self._verified_jws(fetched.body, issuer_id, expected_typ=STATUS_LIST_JWT_TYP)
        )
        if list_claims.get("sub") != uri:
            raise _Unknown(f"the Status List Token's sub is not {uri}")
        values = TokenStatusList.from_claim(cast(dict[str, Any], list_claims.get("status_list") or {}))
        return uri, values.get(index)

    def _bitstring(self, entry: dict[str, Any], issuer_id: str | None, now: datetime) -> StatusFinding:
        purpose = entry.get("statusPurpose")
        label = purpose if isinstance(purpose, str) else "status"
        try:
            url, index, bit = self._read_bit(entry, issuer_id, now)
        except StatusListUnavailable as exc:
            return StatusFinding(label, "unknown", f"list unavailable: {exc}")
        except (_Unknown, ValueError, IndexError) as exc:  # RANGE_ERROR, STATUS_LIST_LENGTH_ERROR, decoding
            return StatusFinding(label, "unknown", str(exc))
        if not bit:
            return StatusFinding(label, "clear", f"bit {index} of {url} is clear")
        return StatusFinding(
            label, "revoked" if purpose == "revocation" else "suspended", f"bit {index} of {url} is set"
        )

    def _read_bit(self, entry: dict[str, Any], issuer_id: str | None, now: datetime) -> tuple[str, int, bool]:
        purpose, index_text, url = (
            entry.get("statusPurpose"),
            entry.get("statusListIndex"),
            entry.get("statusListCredential"),
        )
        if purpose not in _PURPOSES:
            raise _Unknown(f"unsupported statusPurpose {purpose!r}")
        index = _index(index_text)
        if not isinstance(url, str):
            raise _Unknown("statusListCredential must be a URL")
        subject = self._list_subject(url, issuer_id, now)
        if subject.get("statusPurpose") != purpose:
            raise _Unknown(f"the list's statusPurpose is {subject.get('statusPurpose')!r}, not {purpose!r}")
        bits = BitstringStatusList.decode(str(subject.get("encodedList")))
        return url, index, bits.get(index)

    def _list_subject(self, url: str, issuer_id: str | None, now: datetime) -> dict[str, Any]:
        fetched = self._source.fetch(url, _BITSTRING_ACCEPT)
        if "jwt" in fetched.media_type:
            document = self._verified_jws(fetched.body, issuer_id, expected_typ="vc+jwt")
        else:
            try:
                document = loads(fetched.body)
            except ValueError:
                raise _Unknown("the list is not JSON") from None
            if not isinstance(document, dict):
                raise _Unknown("the list is not a JSON object")
            if not self._proofs.verify(cast(dict[str, Any], document), now=now).verified:
                raise _Unknown("the list credential's proof does not verify")
        document = cast(dict[str, Any], document)
        types = document.get("type")
        if not isinstance(types, list) or BITSTRING_CREDENTIAL_TYPE not in types:
            raise _Unknown(f"the list is not a {BITSTRING_CREDENTIAL_TYPE}")
        if issuer_id is None or document_issuer(document) != issuer_id:
            raise _Unknown("the list is not issued by the credential's issuer")
        subject = document.get("credentialSubject")
        if not isinstance(subject, dict):
            raise _Unknown("the list credential has no credentialSubject")
        return cast(dict[str, Any], subject)

    def _verified_jws(self, token: str, issuer_id: str | None, *, expected_typ: str) -> object:
        try:
            jws = parse_compact(token)
            payload = jws.payload_json()
        except (MalformedJws, ValueError):
            raise _Unknown("the list is not a compact JWS with a JSON payload") from None
        if jws.header.get("typ") not in (expected_typ, "application/" + expected_typ):
            raise _Unknown(f"the list's typ is not {expected_typ}")
        kid = jws.header.get("kid")
        resolved = self._keys.resolve(kid) if isinstance(kid, str) else None
        if resolved is None or resolved.revoked:
            raise _Unknown("the list is signed by an unknown or revoked key")
        if issuer_id is not None and resolved.controller not in (None, issuer_id):
            raise _Unknown("the list is signed by another issuer's key")
        if not self._signatures.verifies(token, jws, resolved.jwk):
            raise _Unknown("the list's signature does not verify")
        if not isinstance(payload, dict):
            raise _Unknown("the list's payload is not a JSON object")
        return cast(dict[str, Any], payload)


def _index(value: object) -> int:
    """statusListIndex: a string of digits per the specification; a JSON number is accepted too, as
    deployed issuers send it (1EdTech's own validator fixtures among them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise _Unknown("statusListIndex must be a string of digits")
