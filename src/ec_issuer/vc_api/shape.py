"""Structural checks of VC API inputs (VC Data Model 1.1 and 2.0): what must hold before any proof is
checked. Every failure is a `MalformedInput` (400) whose field errors point into the request body, as the
W3C vc-api issuer and verifier test suites expect a 400 for malformed credentials and presentations.
"""

from __future__ import annotations

from typing import Any, cast

from ec_issuer.core.encoding import JsonObject, parse_datetime
from ec_issuer.core.errors import FieldError, MalformedInput
from ec_issuer.core.vcdm import VC_V1_CONTEXT, VC_V2_CONTEXT, is_v1

BASE_CONTEXTS = (VC_V2_CONTEXT, VC_V1_CONTEXT)

# Members whose every item must carry a `type` (VCDM 2.0 §4.x; 1.1 alike).
_TYPED_MEMBERS = ("credentialSchema", "credentialStatus", "refreshService", "termsOfUse", "evidence")
_V2_DATES = ("validFrom", "validUntil")
_V1_DATES = ("issuanceDate", "expirationDate")
# The proof members a Data Integrity proof cannot go without (VC Data Integrity §2.1).
_REQUIRED_PROOF_MEMBERS = ("type", "verificationMethod", "proofPurpose", "proofValue")


class _Collector:
    def __init__(self, pointer: str) -> None:
        self.base = pointer
        self.errors: list[FieldError] = []

    def add(self, path: str, detail: str) -> None:
        self.errors.append(FieldError(self.base + path, detail))

    def raise_if_any(self, what: str) -> None:
        if self.errors:
            first = self.errors[0]
            raise MalformedInput(f"{what}: {first.pointer or '/'} {first.detail}", self.errors)


def require_object(value: Any, pointer: str, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise MalformedInput(f"{what} must be a JSON object", [FieldError(pointer, "must be a JSON object")])
    return cast(JsonObject, value)


def required_member(body: JsonObject, name: str) -> Any:
    """A top-level member the request must carry (`credential`, `verifiableCredential`, …)."""
    if name not in body:
        raise MalformedInput(f"the request has no {name}", [FieldError(f"/{name}", "is required")])
    return body[name]


def optional_object(value: Any, pointer: str, what: str) -> JsonObject:
    return {} if value is None else require_object(value, pointer, what)


def check_credential(value: Any, pointer: str, *, secured: bool) -> JsonObject:
    """`value` as a credential, or a 400 naming every structural problem. `secured`: it must carry proofs."""
    document = require_object(value, pointer, "the credential")
    errors = _Collector(pointer)
    _check_context(document, errors)
    _check_types(document, "VerifiableCredential", errors)
    _check_issuer(document, errors)
    _check_subject(document, errors)
    _check_dates(document, errors)
    _check_typed_members(document, errors)
    _check_related_resources(document, errors)
    if secured:
        _check_proofs(document, errors)
    elif "proof" in document:
        errors.add("/proof", "send an unsecured credential: this service adds the proof")
    errors.raise_if_any("the credential is malformed")
    return document


def check_presentation(value: Any, pointer: str) -> JsonObject:
    """`value` as a secured presentation, or a 400. Embedded credentials are checked by the caller."""
    document = require_object(value, pointer, "the presentation")
    errors = _Collector(pointer)
    _check_context(document, errors)
    _check_types(document, "VerifiablePresentation", errors)
    if "holder" in document:
        holder: Any = document["holder"]
        holder_id = cast(JsonObject, holder).get("id") if isinstance(holder, dict) else holder
        if not isinstance(holder_id, str) or ":" not in holder_id:
            errors.add("/holder", "must be a URL, or an object whose id is one")
    credentials = document.get("verifiableCredential")
    if credentials is not None:
        items = cast(list[Any], credentials) if isinstance(credentials, list) else [credentials]
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors.add(f"/verifiableCredential/{index}", "must be a JSON object")
    _check_proofs(document, errors)
    errors.raise_if_any("the presentation is malformed")
    return document


def embedded_credentials(presentation: JsonObject) -> list[JsonObject]:
    credentials = presentation.get("verifiableCredential")
    if credentials is None:
        return []
    items = cast(list[Any], credentials) if isinstance(credentials, list) else [credentials]
    return [cast(JsonObject, item) for item in items]


def _check_context(document: JsonObject, errors: _Collector) -> None:
    contexts = document.get("@context")
    if not isinstance(contexts, list) or not contexts:
        errors.add("/@context", "must be a non-empty array")
        return
    items = cast(list[Any], contexts)
    if items[0] not in BASE_CONTEXTS:
        errors.add("/@context/0", f"must be {VC_V2_CONTEXT} (VC 2.0) or {VC_V1_CONTEXT} (VC 1.1)")
    for index, item in enumerate(items):
        if not isinstance(item, str | dict):
            errors.add(f"/@context/{index}", "must be a URL or an object")


def _check_types(document: JsonObject, required: str, errors: _Collector) -> None:
    types = document.get("type")
    names = cast(list[Any], types) if isinstance(types, list) else [types]
    if not all(isinstance(name, str) for name in names):
        errors.add("/type", "must be a string or an array of strings")
    elif required not in names:
        errors.add("/type", f"must include {required!r}")


def _check_issuer(document: JsonObject, errors: _Collector) -> None:
    issuer: Any = document.get("issuer")
    if issuer is None:
        errors.add("/issuer", "is required")
    elif isinstance(issuer, dict):
        identifier = cast(JsonObject, issuer).get("id")
        if not isinstance(identifier, str) or ":" not in identifier:
            errors.add("/issuer/id", "must be a URL")
    elif not isinstance(issuer, str) or ":" not in issuer:
        errors.add("/issuer", "must be a URL, or an object whose id is one")


def _check_subject(document: JsonObject, errors: _Collector) -> None:
    subject = document.get("credentialSubject")
    if subject is None:
        errors.add("/credentialSubject", "is required")
        return
    subjects = cast(list[Any], subject) if isinstance(subject, list) else [subject]
    if not subjects:
        errors.add("/credentialSubject", "must not be empty")
    for index, item in enumerate(subjects):
        path = f"/credentialSubject/{index}" if isinstance(subject, list) else "/credentialSubject"
        if not isinstance(item, dict) or not item:
            errors.add(path, "must be a non-empty JSON object")
        elif "id" in item and not isinstance(cast(JsonObject, item)["id"], str):
            errors.add(path + "/id", "must be a URL")


def _check_dates(document: JsonObject, errors: _Collector) -> None:
    v1 = is_v1(document)
    for name in _V1_DATES if v1 else _V2_DATES:
        value = document.get(name)
        if value is not None and not _is_datetime(value):
            errors.add(f"/{name}", "must be an XML Schema dateTime with a time zone")
    if "id" in document and (not isinstance(document["id"], str) or ":" not in document["id"]):
        errors.add("/id", "must be a URL")


def check_v1_issuance_date(document: JsonObject, pointer: str) -> None:
    """VC 1.1 credentials must carry issuanceDate (the issuer adds it before signing)."""
    if is_v1(document) and "issuanceDate" not in document:
        raise MalformedInput(
            "a VC 1.1 credential needs issuanceDate", [FieldError(pointer + "/issuanceDate", "is required")]
        )


def _check_typed_members(document: JsonObject, errors: _Collector) -> None:
    for name in _TYPED_MEMBERS:
        if name not in document:
            continue
        value = document[name]
        items = cast(list[Any], value) if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            path = f"/{name}/{index}" if isinstance(value, list) else f"/{name}"
            if not isinstance(item, dict):
                errors.add(path, "must be a JSON object")
            elif not isinstance(cast(JsonObject, item).get("type"), str | list):
                errors.add(path + "/type", "is required")
            elif name in ("credentialSchema", "credentialStatus") and not isinstance(
                cast(JsonObject, item).get("id"), str
            ):
                errors.add(path + "/id", "is required")


def _check_related_resources(document: JsonObject, errors: _Collector) -> None:
    if "relatedResource" not in document:
        return
    value = document["relatedResource"]
    items = cast(list[Any], value) if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        path = f"/relatedResource/{index}" if isinstance(value, list) else "/relatedResource"
        if not isinstance(item, dict):
            errors.add(path, "must be a JSON object")
            continue
        resource = cast(JsonObject, item)
        if not isinstance(resource.get("id"), str):
            errors.add(path + "/id", "is required")
        if not isinstance(resource.get("digestSRI"), str) and not isinstance(resource.get("digestMultibase"), str):
            errors.add(path, "needs digestSRI or digestMultibase")


def _check_proofs(document: JsonObject, errors: _Collector) -> None:
    if "proof" not in document:
        errors.add("/proof", "is required")
        return
    value = document["proof"]
    proofs = cast(list[Any], value) if isinstance(value, list) else [value]
    if not proofs:
        errors.add("/proof", "must not be empty")
    for index, item in enumerate(proofs):
        path = f"/proof/{index}" if isinstance(value, list) else "/proof"
        if not isinstance(item, dict):
            errors.add(path, "must be a JSON object")
            continue
        proof = cast(JsonObject, item)
        for name in _REQUIRED_PROOF_MEMBERS:
            if not isinstance(proof.get(name), str):
                errors.add(f"{path}/{name}", "is required and must be a string")
        method = proof.get("verificationMethod")
        if isinstance(method, str) and ":" not in method:
            errors.add(f"{path}/verificationMethod", "must be a URL")
        created = proof.get("created")
        if created is not None and not _is_datetime(created):
            errors.add(f"{path}/created", "must be an XML Schema dateTime with a time zone")


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_datetime(value)
    except ValueError:
        return False
    return True
