"""The public verification page in a real headless Chromium (Debian's `chromium`, driven by Playwright, which
downloads no browser of its own here), served by the app over real HTTP on the loopback interface.

Missing chromium: skipped locally with a reason, a failure in CI (CI=true). Screenshots go to tests/artifacts/
(ignored by git); the copy in docs/images/ was taken from this test.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask.testing import FlaskClient

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container
from ec_issuer.issuers.model import Issuer
from tests.services import unavailable
from tests.support import LiveServer, award_body, serve_in_thread
from tests.verification_support import ORIGINAL_FILE, issue_validation, page_path, sha256_hex

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 10_000

# One database is enough for what a browser sees; the HTTP tests of the same routes run on both.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def chromium_path() -> str:
    candidates = (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), shutil.which("chromium-browser"))
    found = next((c for c in candidates if c and Path(c).exists()), None)
    if found is None:
        unavailable("Chromium", "no `chromium` on PATH (Debian: apt-get install chromium; or set CHROMIUM_PATH)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, headless=True)
        except Error as exc:
            unavailable("Chromium", f"{executable} does not start under Playwright: {exc.message.splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def server(container: Container) -> Iterator[LiveServer]:
    app = create_app(container)
    app.testing = False
    with serve_in_thread(app) as live:
        yield live


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page, and every console error and failed request it sees (a CSP violation is a console error)."""
    context = browser.new_context(viewport={"width": 1000, "height": 900}, device_scale_factor=1)
    opened = context.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    yield opened, problems
    context.close()


def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")  # noqa: T201 - the artefact's path, for whoever reads the test log
    return path


def _wait_for_result(page: Page, expected: str) -> str:
    result = page.locator(f"#file-result[data-result='{expected}']")
    result.wait_for(state="visible")
    return result.inner_text()


def test_a_valid_credential_and_its_file_check(
    server: LiveServer, http: FlaskClient, auth: dict[str, str], issuer: Issuer, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    credential = issue_validation(http, auth, issuer)
    response = tab.goto(server.url + page_path(credential["id"]))
    assert response is not None and response.status == 200
    assert tab.locator("#verdict-word").inner_text() == "Valid"
    assert tab.locator("#verdict").get_attribute("data-verdict") == "valid"
    assert tab.locator("#workflow").inner_text().startswith("energy-model-check 2.1.0")
    assert tab.locator("#run-id").inner_text() == "run-7d1e9b"
    assert tab.locator("#content-hash").inner_text() == f"urn:sha256:{sha256_hex(ORIGINAL_FILE)}"
    body = tab.locator("body").inner_text()
    assert "ACME University" in body and "EPW_SCHEMA" in body and "ENERGYPLUS" in body

    tab.set_input_files("#file-input", files=[_file("model.xml", ORIGINAL_FILE)])
    assert "Match" in _wait_for_result(tab, "match")
    _screenshot(tab, "verification-page.png")

    tab.set_input_files("#file-input", files=[_file("other.xml", ORIGINAL_FILE + b"<!-- edited -->")])
    text = _wait_for_result(tab, "mismatch")
    assert "No match" in text and sha256_hex(ORIGINAL_FILE) in text
    _screenshot(tab, "verification-page-mismatch.png")
    assert problems == []


def test_a_file_dropped_on_the_drop_zone_is_checked(
    server: LiveServer, http: FlaskClient, auth: dict[str, str], issuer: Issuer, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    credential = issue_validation(http, auth, issuer)
    tab.goto(server.url + page_path(credential["id"]))
    # A drop as the browser delivers it: a DataTransfer holding a File, dispatched on the drop zone.
    transfer = tab.evaluate_handle(
        """(text) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], "model.xml", {type: "application/xml"}));
            return transfer;
        }""",
        ORIGINAL_FILE.decode(),
    )
    tab.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    assert "Match" in _wait_for_result(tab, "match")
    assert tab.evaluate("document.getElementById('file-input').files[0].name") == "model.xml"
    assert problems == []


def test_without_webcrypto_the_server_hashes_the_file(
    server: LiveServer, http: FlaskClient, auth: dict[str, str], issuer: Issuer, page: tuple[Page, list[str]]
) -> None:
    """Over plain http on a public host a browser has no crypto.subtle: the script sends the file instead."""
    tab, problems = page
    tab.add_init_script("Object.defineProperty(window, 'isSecureContext', {value: false});")
    credential = issue_validation(http, auth, issuer)
    tab.goto(server.url + page_path(credential["id"]))
    with tab.expect_request(re.compile(r"/file$")) as sent:
        tab.set_input_files("#file-input", files=[_file("model.xml", ORIGINAL_FILE)])
    assert sent.value.method == "POST"
    assert "Match" in _wait_for_result(tab, "match")
    tab.set_input_files("#file-input", files=[_file("other.xml", b"something else")])
    assert "No match" in _wait_for_result(tab, "mismatch")
    assert problems == []


def test_a_revoked_credential_says_revoked(
    server: LiveServer, http: FlaskClient, auth: dict[str, str], issuer: Issuer, page: tuple[Page, list[str]]
) -> None:
    tab, problems = page
    credential = issue_validation(http, auth, issuer)
    revoked = http.post(
        f"/api/v1/credentials/{credential['id']}/revoke", json={"reasonCode": "superseded"}, headers=auth
    )
    assert revoked.status_code == 200, revoked.get_json()
    response = tab.goto(server.url + page_path(credential["id"]))
    assert response is not None and response.status == 200
    assert tab.locator("#verdict-word").inner_text() == "Revoked"
    assert tab.locator("#verdict").get_attribute("data-verdict") == "revoked"
    _screenshot(tab, "verification-page-revoked.png")
    assert problems == []


def test_an_unknown_id_says_unknown(server: LiveServer, page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    response = tab.goto(f"{server.url}/credentials/{uuid.uuid4()}/")
    assert response is not None and response.status == 404
    assert tab.locator("#verdict-word").inner_text() == "Unknown"
    assert tab.locator("#file-form").count() == 0
    # The 404 itself is logged by Chromium as a failed resource; nothing else may be.
    assert [p for p in problems if "404" not in p] == []


def test_the_page_shows_no_personal_data(
    server: LiveServer,
    http: FlaskClient,
    auth: dict[str, str],
    issuer: Issuer,
    container: Container,
    page: tuple[Page, list[str]],
) -> None:
    tab, _ = page
    badge = http.post("/api/v1/credentials", json=award_body(recipient={"email": "ada@example.org"}), headers=auth)
    assert badge.status_code == 201
    open_badge = badge.get_json()["credential"]
    identity_hash = open_badge["credentialSubject"]["identifier"][0]["identityHash"]
    tab.goto(server.url + page_path(open_badge["id"]))
    assert tab.locator("#verdict-word").inner_text() == "Valid"
    shown = tab.content()
    for secret in ("ada@example.org", identity_hash, identity_hash.split("$")[-1], "Python 101", "learner"):
        assert secret not in shown, secret
    assert "Open Badge" in shown and "ACME University" in shown

    credential = issue_validation(http, auth, issuer)
    tab.goto(server.url + page_path(credential["id"]))
    shown = tab.content()
    # The opaque submission id is in the credential, but the page has no use for it; nor for the client.
    for secret in ("sub-4f7a2c", "urn:ec-issuer:submission", container.access.authenticate(_token(auth)).id):
        assert secret not in shown, secret


def _token(auth: dict[str, str]) -> str:
    return auth["Authorization"].removeprefix("Bearer ")


def _file(name: str, data: bytes) -> Any:
    return {"name": name, "mimeType": "application/xml", "buffer": data}
