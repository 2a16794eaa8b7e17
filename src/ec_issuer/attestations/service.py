"""Issuing ValidationCredentials for validation runs, once per (run, step run); organizations' privacy opt-in.

A request is answered in one of four ways: the run did not pass (skipped: nothing is signed or stored), the
run and step run were attested before (the stored credential again, when the request says the same), a new
credential, or an error. The credential and its links are stored in one transaction, and the unique
(run, step run) constraint decides between concurrent requests: the loser answers with the winner's credential.
"""

from __future__ import annotations

from ec_issuer.access.model import ApiClient
from ec_issuer.access.service import require_admin
from ec_issuer.attestations.commands import (
    PASSED,
    PASSED_WITH_WARNINGS,
    IssueValidationCredential,
    PutOrganizationPrivacy,
    checked_identifier,
)
from ec_issuer.attestations.document import ValidationUrls, validation_credential
from ec_issuer.attestations.model import AttestationOutcome, AttestationRecord, OrganizationPrivacy
from ec_issuer.attestations.ports import DuplicateAttestation
from ec_issuer.attestations.privacy import findings, refuse_undisclosable
from ec_issuer.core.errors import Conflict, FieldError, InvalidInput
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.credentials.commands import IssueDocument
from ec_issuer.credentials.issuing import CredentialIssuer, canonical_request_hash
from ec_issuer.credentials.model import VC_JWT, IssuedCredential
from ec_issuer.issuers.service import require_issuer_for


class ValidationAttestations:
    def __init__(self, uow: UnitOfWorkFactory, issuing: CredentialIssuer, clock: Clock, urls: ValidationUrls) -> None:
        self._uow = uow
        self._issuing = issuing
        self._clock = clock
        self.urls = urls

    def issue(self, client: ApiClient, command: IssueValidationCredential) -> AttestationOutcome:
        request_hash = canonical_request_hash(command)
        run_id, step_run_id = command.run.id, command.stepRun.id
        with self._uow() as uow:
            issuer = require_issuer_for(uow, client, command.issuer, "/issuer")
            earlier = uow.attestations.for_run(run_id, step_run_id)
            if earlier is not None:
                return _answer_again(client, *earlier, request_hash)
            reason = _reason_to_skip(command)
            if reason is not None:
                return AttestationOutcome.skipped(reason)
            self._check_issuable(uow, command)
            document = validation_credential(command, issuer, self.urls)
            request = IssueDocument(issuer=issuer.slug, credential=document, format=command.format or VC_JWT)
            [credential] = self._issuing.issue_all_in(uow, client, [request])
            try:
                uow.attestations.add(_record(command, credential, request_hash))
                uow.commit()
            except DuplicateAttestation:
                pass  # a concurrent request for the same run and step run won: answer with its credential
            else:
                return AttestationOutcome(credential)
        with self._uow() as uow:
            earlier = uow.attestations.for_run(run_id, step_run_id)
            if earlier is None:
                raise Conflict("a concurrent request for this run and step run did not complete; retry")
            return _answer_again(client, *earlier, request_hash)

    def record_for(self, credential_id: str) -> AttestationRecord | None:
        """What a credential was issued for (organization, project, submission, run, step run, action), if
        it is a validation attestation."""
        with self._uow() as uow:
            return uow.attestations.for_credential(credential_id)

    def privacy(self, client: ApiClient, organization_id: str) -> OrganizationPrivacy:
        require_admin(client)
        checked_identifier(organization_id, "organizationId")
        with self._uow() as uow:
            return uow.attestations.privacy(organization_id) or OrganizationPrivacy(organization_id)

    def set_privacy(
        self, client: ApiClient, organization_id: str, command: PutOrganizationPrivacy
    ) -> OrganizationPrivacy:
        require_admin(client)
        checked_identifier(organization_id, "organizationId")
        settings = OrganizationPrivacy(
            organization_id, command.allowPersonalData, command.allowFilenames, self._clock.now()
        )
        with self._uow() as uow:
            uow.attestations.set_privacy(settings)
            uow.commit()
        return settings

    def _check_issuable(self, uow: UnitOfWork, command: IssueValidationCredential) -> None:
        """What the credential needs beyond a valid request: a completed run with validators, a future
        validUntil, and nothing the organization has not allowed to be published."""
        missing: list[FieldError] = []
        if command.run.completedAt is None:
            missing.append(FieldError("/run/completedAt", "required for a run that passed"))
        if not command.run.validators:
            missing.append(FieldError("/run/validators", "a credential names at least one validator"))
        if command.validUntil is not None and command.validUntil <= self._clock.now():
            missing.append(FieldError("/validUntil", "must be in the future"))
        if missing:
            raise InvalidInput("the run cannot be attested as sent", missing)
        found = findings(command)
        if found:  # the opt-in is read only when there is something it could allow
            organization_id = command.organization.id
            settings = uow.attestations.privacy(organization_id) or OrganizationPrivacy(organization_id)
            refuse_undisclosable(found, settings)


def _reason_to_skip(command: IssueValidationCredential) -> str | None:
    status = command.run.status
    if status == PASSED:
        return None
    if status == PASSED_WITH_WARNINGS:
        if command.action.issueOnWarnings:
            return None
        return "the run passed with warnings and the action does not issue on warnings (issueOnWarnings)"
    return f"the run's status is {status}: only runs that passed are attested"


def _answer_again(
    client: ApiClient, record: AttestationRecord, credential: IssuedCredential, request_hash: str
) -> AttestationOutcome:
    if credential.client_id != client.id:
        raise Conflict(
            "this run and step run were attested for another API client",
            [FieldError("/stepRun/id", "already attested")],
        )
    if record.request_hash != request_hash:
        raise Conflict(
            "this run and step run were attested for a different request",
            [FieldError("/stepRun/id", "already attested; a retry must send the same body")],
        )
    return AttestationOutcome(credential, replayed=True)


def _record(command: IssueValidationCredential, credential: IssuedCredential, request_hash: str) -> AttestationRecord:
    return AttestationRecord(
        credential_id=credential.id,
        organization_id=command.organization.id,
        project_id=command.project.id,
        submission_id=command.submission.id,
        run_id=command.run.id,
        step_run_id=command.stepRun.id,
        action_id=command.action.id,
        action_configuration=command.action.configuration,
        format_version=credential.format_version,
        request_hash=request_hash,
        created_at=credential.issued_at,
    )
