"""JSON Schema checks on credential documents, against vendored schemas: the official OB 3.0 one, and
our own for ValidationCredentials (resources/validation/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import jsonschema_rs

from ec_issuer.core.errors import FieldError, pointer_from_path
from ec_issuer.credentials.families import OPEN_BADGES, VALIDATION_ATTESTATION, family_of
from ec_issuer.resources import load_json

OB3_ACHIEVEMENT_CREDENTIAL_SCHEMA = "ob3/ob_v3p0_achievementcredential_schema.json"
VALIDATION_CREDENTIAL_SCHEMA = "validation/validation-credential-v1.schema.json"


class CredentialSchemaValidator(Protocol):
    def errors(self, document: dict[str, Any]) -> list[FieldError]:
        """Every schema violation, each located by a JSON Pointer into the document."""
        ...


class _VendoredSchema:
    def __init__(self, validator: Any, max_errors: int) -> None:
        self._validator = validator
        self._max_errors = max_errors

    def errors(self, document: dict[str, Any]) -> list[FieldError]:
        found: list[FieldError] = []
        for error in self._validator.iter_errors(document):
            found.append(FieldError(pointer_from_path(list(error.instance_path)), error.message))
            if len(found) >= self._max_errors:
                break
        return found


class Ob3SchemaValidator(_VendoredSchema):
    """The official OB 3.0 AchievementCredential schema (draft 2019-09), with format checks on."""

    def __init__(self, max_errors: int = 20) -> None:
        schema = load_json(OB3_ACHIEVEMENT_CREDENTIAL_SCHEMA)
        super().__init__(jsonschema_rs.Draft201909Validator(schema, validate_formats=True), max_errors)


class ValidationCredentialSchemaValidator(_VendoredSchema):
    """Our ValidationCredential schema (draft 2020-12), with format checks on."""

    def __init__(self, max_errors: int = 20) -> None:
        schema = load_json(VALIDATION_CREDENTIAL_SCHEMA)
        super().__init__(jsonschema_rs.Draft202012Validator(schema, validate_formats=True), max_errors)


class SchemasByFamily:
    """Checks each document against the schema of its family (`families.py`); a family without one passes."""

    def __init__(self, schemas: Mapping[str, CredentialSchemaValidator]) -> None:
        self._schemas = dict(schemas)

    def errors(self, document: dict[str, Any]) -> list[FieldError]:
        schema = self._schemas.get(family_of(document).name)
        return schema.errors(document) if schema is not None else []


def credential_schemas() -> SchemasByFamily:
    return SchemasByFamily(
        {OPEN_BADGES.name: Ob3SchemaValidator(), VALIDATION_ATTESTATION.name: ValidationCredentialSchemaValidator()}
    )
