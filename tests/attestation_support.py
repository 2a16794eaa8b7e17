"""Request bodies for the validation attestation tests (POST /api/v1/validation-credentials)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

MODEL_BYTES = b"Version,23.2;\nBuilding,Office,0.0,City,0.04,0.4,FullExterior,25,6;\n"
MODEL_SHA256 = hashlib.sha256(MODEL_BYTES).hexdigest()


def validation_body(issuer: str = "acme", *, run: str = "run-7f3a", step_run: str = "step-1") -> dict[str, Any]:
    """A complete body for a run that PASSED."""
    body: dict[str, Any] = {
        "issuer": issuer,
        "organization": {"id": "org-41"},
        "project": {"id": "prj-9"},
        "submission": {
            "id": "sub-0c1d",
            "resource": {"sha256": MODEL_SHA256, "mediaType": "application/xml", "size": len(MODEL_BYTES)},
        },
        "run": {
            "id": run,
            "status": "PASSED",
            "completedAt": "2026-03-14T15:00:00Z",
            "workflow": {"id": "wf-12", "slug": "energy-model-check", "version": "3.1.0"},
            "validators": [
                {"code": "idf-schema", "version": "24.1", "validationType": "SCHEMA"},
                {"code": "ashrae-901", "version": "2019.2", "validationType": "RULES"},
            ],
            "results": {"warnings": 0, "messages": ["checked 1,204 objects"]},
        },
        "stepRun": {"id": step_run},
        "action": {"id": "act-3", "issueOnWarnings": False, "template": "default"},
    }
    return body


def with_member(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the member at `path` ("run/status", "run/validators/0/code") set, or removed
    when `value` is None."""
    changed = copy.deepcopy(body)
    *parents, name = path.split("/")
    target: Any = changed
    for parent in parents:
        target = target[int(parent)] if isinstance(target, list) else target[parent]
    if value is None:
        del target[name]
    else:
        target[name] = value
    return changed


def record_a_validation_credential(container: Any, admin: Any) -> None:
    """Rows in the tables of issue 10, for the tests that check a refused request changes no table:
    an organization's publication settings and one validation credential."""
    from ec_issuer.attestations.commands import IssueValidationCredential, PutOrganizationPrivacy

    container.attestations.set_privacy(admin, "org-41", PutOrganizationPrivacy(allowFilenames=True))
    container.attestations.issue(admin, IssueValidationCredential.model_validate(validation_body()))
