"""The OpenAPI document says what the service does.

Schemathesis reads /openapi.json, generates requests for every operation from it (valid ones, and ones that
break the declared schema), sends them to the application in process with an admin token, and checks every
answer against the document: its status code is declared, its media type is declared for that status, its body
fits the declared schema, and it is not a 5xx. Before the document was mended (api/openapi.py), the same checks
found 86 mismatches: errors declared as APIFlask's `HTTPError` JSON while the service answers problem+json,
undeclared 400s (control characters in the URL, bodies that are not JSON), did:web documents, contexts and
metrics declared as `application/json`, and 16 operations whose error schema was a `$ref` to nothing.

The static tests below pin what a client generator relies on: every `$ref` resolves, and every error answer is
a problem document (beside the OAuth error object on the OID4VCI wallet endpoints).

SQLite only: the document and the routes do not depend on the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import build
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from tests.conftest import json_of
from tests.support import make_settings, unreachable_postgres_url

ADMIN_TOKEN = "openapi-conformance-admin-token-0123456789"
EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def app(sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # No public rate limit: thousands of requests from one address would all meet it (429 is declared anyway).
    container = build(make_settings(sqlite_url, tmp_path_factory.mktemp("openapi"), public_rate_per_minute=0))
    container.access.ensure_bootstrap_client(ADMIN_TOKEN)
    if container.issuers.get("acme") is None:
        issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME University", url="https://acme.example"))
        container.keys.generate(issuer, Algorithm.ES256)
    application = create_app(container)
    application.testing = False  # errors go through the real handlers, as in production
    yield application
    container.engine.dispose()


@pytest.fixture(scope="module")
def document(app: Any) -> dict[str, Any]:
    return json_of(app.test_client().get("/openapi.json"))


@pytest.fixture(scope="module")
def api_schema(app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_answer_is_the_one_the_document_declares(api_schema: Any, mode: GenerationMode) -> None:
    assert _undeclared_answers(api_schema, mode, CHECKS, EXAMPLES_PER_OPERATION) == []


def test_with_the_database_away_every_answer_is_declared_and_none_is_a_500(tmp_path: Path) -> None:
    """An unreachable PostgreSQL: every route answers 503 (declared) or what it answers without the database.
    This found the offer-by-reference routes answering 500 (their store used the engine directly)."""
    container = build(make_settings(unreachable_postgres_url(), tmp_path))
    try:
        application = create_app(container)
        application.testing = False
        api_schema = schemathesis.openapi.from_wsgi("/openapi.json", application)
        checks = [_only_503_among_5xx, status_code_conformance, content_type_conformance, response_schema_conformance]
        assert _undeclared_answers(api_schema, GenerationMode.POSITIVE, checks, examples=3) == []
    finally:
        container.engine.dispose()


def _only_503_among_5xx(ctx: Any, response: Any, case: Any) -> bool | None:
    del ctx, case
    assert response.status_code < 500 or response.status_code == 503, f"{response.status_code}: {response.text}"
    return None


def _undeclared_answers(api_schema: Any, mode: GenerationMode, checks: list[Any], examples: int) -> list[str]:
    """Each operation's first counterexample to `checks`, over `examples` generated requests per operation."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 60

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,  # nothing written to the checkout
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        def answer_as_declared(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=checks)

        try:
            answer_as_declared()
        except Unsatisfiable:
            continue  # an operation without parameters or body has no invalid request to generate
        except (AssertionError, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    return failures


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():  # pyright: ignore[reportUnknownVariableType]
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:  # pyright: ignore[reportUnknownVariableType]
            yield from _references(item)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    references = set(_references(document))
    assert references, "the document references no schema at all"
    unresolved = {ref for ref in references if ref.removeprefix("#/components/schemas/") not in schemas}
    assert unresolved == set()
    assert "HTTPError" not in schemas and "ValidationError" not in schemas  # APIFlask's, never sent


def test_every_error_answer_is_a_problem_document(document: dict[str, Any]) -> None:
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]
    wrong: list[str] = []
    oauth: list[str] = []
    for name, operation in operations:
        for code, answer in operation["responses"].items():
            if int(code) < 400:
                continue
            content = answer.get("content", {})
            if content.get("application/problem+json") != {"schema": {"$ref": "#/components/schemas/Problem"}}:
                wrong.append(f"{name} {code}")
            others = {media: body for media, body in content.items() if media != "application/problem+json"}
            if others == {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}}:
                oauth.append(name)
            elif others:  # the verification page's Unknown page for browsers; the readiness checks
                assert (name, code, set(others)) in (
                    ("GET /credentials/{credential_id}/", "404", {"text/html"}),
                    ("GET /credentials/{credential_id}/", "503", {"text/html"}),
                    ("GET /ready", "503", {"application/json"}),
                )
        # A control character in the URL is refused on every route, before it runs.
        assert "400" in operation["responses"], name
        if name not in ("GET /health", "GET /contexts/validation/v1", "GET /schemas/validation-credential/v1.json"):
            assert "503" in operation["responses"], name
        assert not any(key.startswith("x-") for key in operation), name
    assert wrong == []
    assert oauth and all("/oid4vci/" in name for name in oauth)


def test_a_body_taking_operation_declares_the_refusals_of_its_body(document: dict[str, Any]) -> None:
    issue = document["paths"]["/api/v1/validation-credentials"]["post"]["responses"]
    assert {"400", "413", "415", "422"} <= set(issue)
    token = document["paths"]["/issuers/{slug}/oid4vci/token"]["post"]["responses"]
    assert "415" not in token  # a protocol endpoint answers a wrong media type as invalid_request


def test_non_json_answers_name_their_media_types(document: dict[str, Any]) -> None:
    def media(path: str, code: str = "200", method: str = "get") -> set[str]:
        return set(document["paths"][path][method]["responses"][code]["content"])

    assert media("/issuers/{slug}/did.json") == {"application/did+json"}
    assert media("/contexts/validation/v1") == {"application/ld+json"}
    assert media("/metrics") == {"text/plain"}
    assert media("/credentials/{credential_id}/") == {"text/html", "application/json"}
    assert media("/credentials/{credential_id}/badge.png") == {"image/png"}
    assert media("/credentials/{credential_id}/certificate.pdf") == {"application/pdf"}
    assert "application/statuslist+jwt" in media("/issuers/{slug}/status/{kind}/{number}")
