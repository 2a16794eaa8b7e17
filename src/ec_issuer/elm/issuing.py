"""Making the European Digital Credential of an award: build, render its page, check, seal.

The credentials capability decides whether to make one (the request's `produce`), authorizes the caller
and stores the result beside the Open Badge; this module only turns an award into a sealed file, and
refuses one that would not pass Europass's format check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ec_issuer.core.encoding import dumps
from ec_issuer.core.errors import FieldError, InvalidInput, MalformedInput
from ec_issuer.credentials.commands import IssueCredential
from ec_issuer.elm.building import EdcInput, PageText, Sealer, build_edc
from ec_issuer.elm.nodes import Media
from ec_issuer.elm.page import DEFAULT_TEMPLATE, PageContent, PageTemplate, UnusableImage, render_page
from ec_issuer.elm.seal import SealSigner, seal_payload
from ec_issuer.elm.seal_certificate import seal_certificate_facts
from ec_issuer.elm.shapes import ShapeViolation, check_credential, describe
from ec_issuer.issuers.model import Issuer

FAMILY = "elm-3.2"
FORMAT_VERSION = "elm-3.2+edc-ap-1.2.0+jades-b-b"
MEDIA_TYPE = "application/ld+json"


@dataclass(frozen=True, slots=True)
class SealedEdc:
    document: dict[str, Any]
    payload: str  # the credential JSON exactly as sealed
    sealed: str  # the file: the JAdES envelope around `payload`


class ShapesViolated(InvalidInput):
    """The credential would fail Europass's format check; nothing was sealed."""

    def __init__(self, violations: tuple[ShapeViolation, ...]) -> None:
        super().__init__(
            f"the European Digital Credential does not conform to edc-generic-full 1.2.0 "
            f"({len(violations)} violation{'s' if len(violations) != 1 else ''})",
            [FieldError("/europass", violation.describe()) for violation in violations],
            {"violations": describe(violations)},
        )
        self.violations = violations


class EuropeanCredentialMaker:
    def __init__(self, signer: SealSigner | None, template: PageTemplate = DEFAULT_TEMPLATE) -> None:
        self._signer = signer
        self._template = template
        self._sealer: Sealer | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._signer is not None

    def make(self, request: IssueCredential, issuer: Issuer, *, credential_id: str, now: datetime) -> SealedEdc:
        if request.europass is None:
            raise InvalidInput("'europass' is required", [FieldError("/europass", "required to produce elm-3.2")])
        signer = self._require_signer()
        document = build_edc(
            EdcInput(
                command=request,
                europass=request.europass,
                issuer=issuer,
                sealer=self._sealer_of(signer),
                credential_id=credential_id,
                issued_at=now,
                render_page=self._render,
            )
        )
        report = check_credential(document)
        if not report.conforms:
            raise ShapesViolated(report.violations)
        payload = dumps(document).decode("utf-8")
        return SealedEdc(document, payload, seal_payload(payload, signer, signing_time=now))

    def _require_signer(self) -> SealSigner:
        if self._signer is None:
            raise MalformedInput(
                "this deployment has no eSeal configured, so it cannot issue European Digital Credentials",
                [FieldError("/produce", "leave out elm-3.2, or configure ELM_SEAL_PKCS12 (docs/elm.md)")],
            )
        return self._signer

    def _sealer_of(self, signer: SealSigner) -> Sealer:
        with self._lock:
            if self._sealer is None:
                facts = seal_certificate_facts(signer.certificate_chain[0])
                self._sealer = Sealer(facts.organization_identifier, facts.country)
            return self._sealer

    def _render(self, text: PageText) -> Media:
        content = PageContent(
            title=text.title,
            learner_name=text.learner_name,
            awarding_body=text.awarding_body,
            awarded_on=text.awarded_on,
            description=text.description,
            facts=text.facts,
            badge_image=text.badge.data if text.badge else None,
            issuer_logo=text.logo.data if text.logo else None,
            footer=text.credential_id,
        )
        try:
            page = render_page(content, self._template)
        except UnusableImage as exc:
            pointer = "/achievement/image" if exc.field == "badge_image" else "/issuer"
            raise InvalidInput(exc.detail, [FieldError(pointer, exc.reason)]) from None
        return Media(page.data, page.media_type)
