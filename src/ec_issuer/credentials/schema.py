"""JSON Schema checks on credential documents, against vendored official schemas."""

from __future__ import annotations

from typing import Any, Protocol

import jsonschema_rs

from ec_issuer.core.errors import FieldError, pointer_from_path
from ec_issuer.resources import load_json

OB3_ACHIEVEMENT_CREDENTIAL_SCHEMA = "ob3/ob_v3p0_achievementcredential_schema.json"


class CredentialSchemaValidator(Protocol):
    def errors(self, document: dict[str, Any]) -> list[FieldError]:
        """Every schema violation, each located by a JSON Pointer into the document."""
        ...


class Ob3SchemaValidator:
    """The official OB 3.0 AchievementCredential schema (draft 2019-09), with format checks on."""

    def __init__(self, max_errors: int = 20) -> None:
        schema = load_json(OB3_ACHIEVEMENT_CREDENTIAL_SCHEMA)
        self._validator = jsonschema_rs.Draft201909Validator(schema, validate_formats=True)
        self._max_errors = max_errors

    def errors(self, document: dict[str, Any]) -> list[FieldError]:
        found: list[FieldError] = []
        for error in self._validator.iter_errors(document):
            found.append(FieldError(pointer_from_path(list(error.instance_path)), error.message))
            if len(found) >= self._max_errors:
                break
        return found
