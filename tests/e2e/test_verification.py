"""The public verification routes over HTTP: the page as JSON (anonymous and with a token), the HTML page's
escaping and headers, the server-side file check, the account-free shapes of POST /credentials/verify, and the
certificate and badge (their QR codes decoded with zxing-cpp). The page in a browser: test_verification_browser.py.
"""

from __future__ import annotations

import base64
import http.client
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image

from ec_issuer.access.commands import CreateClient
from ec_issuer.api import routes_verification
from ec_issuer.api.app import create_app
from ec_issuer.api.uploads import INLINE_FILE_MAX_BYTES
from ec_issuer.bootstrap import Container, build
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from tests.conftest import json_of
from tests.support import SettableClock, award_body, make_settings, serve_in_thread
from tests.verification_support import ORIGINAL_FILE, issue_validation, page_path, sha256_hex

FILE_LIMIT = 64 * 1024
VERIFY = "/credentials/verify"
JSON = {"Accept": "application/json"}
OTHER_FILE = ORIGINAL_FILE + b"<!-- edited -->"
MULTIPART = "multipart/form-data"


@pytest.fixture
def container(database_url: str, tmp_path: Path, clock: SettableClock) -> Iterator[Container]:
    """The usual container with a small file limit, so that 413 costs 64 KiB, not 50 MiB."""
    built = build(make_settings(database_url, tmp_path, verify_file_max_bytes=FILE_LIMIT), clock=clock)
    yield built
    built.engine.dispose()


@pytest.fixture
def validation(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> dict[str, Any]:
    return issue_validation(http, auth, issuer)


@pytest.fixture
def open_badge(http: FlaskClient, auth: dict[str, str], issuer: Issuer) -> dict[str, Any]:
    response = http.post("/api/v1/credentials", json=award_body(recipient={"email": "ada@example.org"}), headers=auth)
    assert response.status_code == 201
    return response.get_json()


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return json_of(response)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def checks_of(answer: dict[str, Any]) -> dict[str, str]:
    return {check["check"]: check["result"] for check in answer["checks"]}


# --- the page as JSON ----------------------------------------------------------------------------------------------


def test_json_of_a_validation_credential(http: FlaskClient, validation: dict[str, Any]) -> None:
    response = http.get(page_path(validation["id"]), headers=JSON)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Accept" in response.headers["Vary"]
    body = json_of(response)
    assert body["id"] == validation["id"]
    assert (body["verdict"], body["verdictLabel"]) == ("valid", "Valid")
    assert body["credential"] == validation["credential"]
    assert body["jws"] == validation["jws"]
    assert body["verification"]["verified"] is True, body["verification"]["errors"]
    assert checks_of(body["verification"])["signature"] == "passed"
    facts = body["facts"]["validation"]
    assert facts["contentHash"] == f"urn:sha256:{sha256_hex(ORIGINAL_FILE)}"
    assert (facts["workflowSlug"], facts["workflowVersion"], facts["runId"]) == (
        "energy-model-check",
        "2.1.0",
        "run-7d1e9b",
    )
    assert [v["code"] for v in facts["validators"]] == ["EPW_SCHEMA", "ENERGYPLUS"]
    key = validation["id"].removeprefix("urn:uuid:")
    assert body["links"] == {
        "page": f"https://issuer.test/credentials/{key}/",
        "file": f"https://issuer.test/credentials/{key}/file",
        "certificate": f"https://issuer.test/credentials/{key}/certificate.pdf",
        "badge": f"https://issuer.test/credentials/{key}/badge.png",
    }
    assert "record" not in body and "attestation" not in body


def test_the_page_answers_under_every_form_of_the_id(http: FlaskClient, validation: dict[str, Any]) -> None:
    key = validation["id"].removeprefix("urn:uuid:")
    for path in (f"/credentials/{key}/", f"/credentials/urn:uuid:{key}/"):
        assert json_of(http.get(path, headers=JSON))["id"] == validation["id"]
    redirect = http.get(f"/credentials/{key}")
    assert redirect.status_code == 308 and redirect.headers["Location"].endswith(f"/credentials/{key}/")


def test_an_open_badge_shows_anonymous_callers_no_recipient(http: FlaskClient, open_badge: dict[str, Any]) -> None:
    response = http.get(page_path(open_badge["id"]), headers=JSON)
    text = response.get_data(as_text=True)
    body = json_of(response)
    assert body["verdict"] == "valid"
    assert body["credential"] is None and body["jws"] is None and body["verification"]["credential"] is None
    assert body["facts"]["kind"] == "Open Badge" and body["facts"]["validation"] is None
    assert body["facts"]["issuer"]["name"] == "ACME University"
    assert body["links"]["certificate"] is None and body["links"]["file"] is None
    identity_hash = open_badge["credential"]["credentialSubject"]["identifier"][0]["identityHash"]
    for secret in ("ada@example.org", identity_hash, "Python 101", "credentialSubject"):
        assert secret not in text, secret
    html = http.get(page_path(open_badge["id"])).get_data(as_text=True)
    for secret in ("ada@example.org", identity_hash, "Python 101"):
        assert secret not in html, secret


def test_a_token_shows_the_record(
    http: FlaskClient, auth: dict[str, str], open_badge: dict[str, Any], validation: dict[str, Any]
) -> None:
    body = json_of(http.get(page_path(open_badge["id"]), headers={**JSON, **auth}))
    assert body["credential"] == open_badge["credential"] and body["jws"] == open_badge["jws"]
    assert body["record"]["issuer"] == "acme" and body["record"]["status"] == "active"
    assert "attestation" in body  # the validation platform's links, when that capability is wired
    detailed = json_of(http.get(page_path(validation["id"]), headers={**JSON, **auth}))
    assert detailed["record"]["family"] == "validation-attestation"


def test_a_wrong_token_is_401_and_a_client_of_another_issuer_403(
    http: FlaskClient, container: Container, validation: dict[str, Any]
) -> None:
    for header in ("Bearer eci_never-issued", "Basic YTpi", "Bearer "):
        problem = problem_of(http.get(page_path(validation["id"]), headers={**JSON, "Authorization": header}), 401)
        assert problem["status"] == 401
    other = container.issuers.create(CreateIssuer(slug="other", name="Other College", url="https://other.example"))
    token = container.access.create(CreateClient(name="other-only", issuers=[other.slug])).token
    problem_of(http.get(page_path(validation["id"]), headers={**JSON, "Authorization": f"Bearer {token}"}), 403)


def test_unknown_ids(http: FlaskClient) -> None:
    for path in (f"/credentials/{uuid.uuid4()}/", "/credentials/not-a-uuid/", "/credentials/urn:isbn:123/"):
        problem_of(http.get(path, headers=JSON), 404)
        page = http.get(path)
        assert page.status_code == 404 and page.mimetype == "text/html"
        assert re.search(r'id="verdict-word">Unknown<', page.get_data(as_text=True))
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


# --- the HTML page -------------------------------------------------------------------------------------------------


def test_the_page_escapes_what_the_credential_says_and_runs_no_inline_code(
    http: FlaskClient, auth: dict[str, str], issuer: Issuer
) -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    credential = issue_validation(http, auth, issuer, issuer={"id": issuer.did, "name": hostile})
    response = http.get(page_path(credential["id"]))
    html = response.get_data(as_text=True)
    assert hostile not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&lt;script&gt;" in html
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/verification/assets/verify.js" defer>']
    assert not re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", html)  # no event handler or style attribute
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_assets_are_served_with_a_long_cache(http: FlaskClient) -> None:
    script = http.get("/verification/assets/verify.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"crypto.subtle.digest" in script.data
    assert script.headers["Cache-Control"] == "public, max-age=3600"
    again = http.get("/verification/assets/verify.js", headers={"If-None-Match": script.headers["ETag"]})
    assert again.status_code == 304
    assert http.get("/verification/assets/verify.css").mimetype == "text/css"
    assert http.get("/verification/assets/other.js").status_code == 404


# --- POST /credentials/<id>/file -----------------------------------------------------------------------------------


def test_a_raw_body_is_hashed_and_compared(http: FlaskClient, validation: dict[str, Any]) -> None:
    path = page_path(validation["id"]) + "file"
    match = json_of(http.post(path, data=ORIGINAL_FILE, content_type="application/xml"))
    assert match == {
        "credentialId": validation["id"],
        "match": True,
        "expected": f"urn:sha256:{sha256_hex(ORIGINAL_FILE)}",
        "actual": f"urn:sha256:{sha256_hex(ORIGINAL_FILE)}",
        "size": len(ORIGINAL_FILE),
        "verdict": "valid",
    }
    mismatch = json_of(http.post(path, data=OTHER_FILE, content_type="application/octet-stream"))
    assert mismatch["match"] is False and mismatch["actual"] == f"urn:sha256:{sha256_hex(OTHER_FILE)}"


def test_a_multipart_file_part_is_hashed(http: FlaskClient, validation: dict[str, Any]) -> None:
    path = page_path(validation["id"]) + "file"
    answer = http.post(path, data={"file": (io.BytesIO(ORIGINAL_FILE), "model.xml")}, headers=JSON)
    assert json_of(answer)["match"] is True
    # A browser without JavaScript submits the page's form and gets the page back with the answer.
    page = http.post(path, data={"file": (io.BytesIO(OTHER_FILE), "model.xml")}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert 'data-result="mismatch"' in page.get_data(as_text=True)


def test_files_above_the_limit_are_413(http: FlaskClient, validation: dict[str, Any]) -> None:
    path = page_path(validation["id"]) + "file"
    assert json_of(http.post(path, data=b"x" * FILE_LIMIT))["match"] is False
    problem_of(http.post(path, data=b"x" * (FILE_LIMIT + 1)), 413)
    multipart = {"file": (io.BytesIO(b"x" * FILE_LIMIT), "big.bin")}
    problem_of(http.post(path, data=multipart), 413)


def test_a_chunked_upload_above_the_limit_is_413(container: Container, validation: dict[str, Any]) -> None:
    """Without Content-Length the limit is enforced while reading, over a real connection."""
    app = create_app(container)
    app.testing = False
    with serve_in_thread(app) as live:
        address = urlsplit(live.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        pieces = (b"y" * 8192 for _ in range(FILE_LIMIT // 8192 + 2))
        connection.request("POST", page_path(validation["id"]) + "file", body=pieces, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == "application/problem+json"
        connection.close()


def test_bad_file_requests(http: FlaskClient, validation: dict[str, Any], open_badge: dict[str, Any]) -> None:
    path = page_path(validation["id"]) + "file"
    assert problem_of(http.post(path, data=b""), 400)["errors"][0]["pointer"] == ""
    problem_of(http.post(f"/credentials/{uuid.uuid4()}/file", data=ORIGINAL_FILE), 404)
    no_hash = problem_of(http.post(page_path(open_badge["id"]) + "file", data=ORIGINAL_FILE), 422)
    assert no_hash["errors"][0]["pointer"] == "file"
    missing = problem_of(http.post(path, data={"note": "no file"}, content_type=MULTIPART), 422)
    assert missing["errors"][0]["pointer"] == "note"
    garbled = problem_of(
        http.post(path, data=b"no parts at all", content_type="multipart/form-data; boundary=xyz"), 400
    )
    assert "multipart" in garbled["detail"]
    no_boundary = problem_of(http.post(path, data=b"--x\r\n", content_type="multipart/form-data"), 400)
    assert no_boundary["errors"][0]["pointer"] == "Content-Type"
    nameless = b"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--\r\n"
    problem_of(http.post(path, data=nameless, content_type="multipart/form-data; boundary=b"), 400)
    twice = "--b\r\n" + 'Content-Disposition: form-data; name="file"; filename="a"\r\n\r\n1\r\n'
    twice = (twice * 2 + "--b--\r\n").encode()
    duplicate = problem_of(http.post(path, data=twice, content_type="multipart/form-data; boundary=b"), 422)
    assert duplicate["errors"][0]["pointer"] == "file"


# --- POST /credentials/verify without an account -------------------------------------------------------------------


def test_verify_by_id_with_and_without_the_file(http: FlaskClient, validation: dict[str, Any]) -> None:
    plain = json_of(http.post(VERIFY, json={"credentialId": validation["id"]}))
    assert plain["verified"] is True and plain["verdict"] == "valid", plain["errors"]
    assert checks_of(plain)["contentHash"] == "skipped"
    assert plain["credential"] == validation["credential"]
    bare = validation["id"].removeprefix("urn:uuid:")
    matched = json_of(http.post(VERIFY, json={"credentialId": bare, "file": b64(ORIGINAL_FILE)}))
    assert matched["verified"] is True and checks_of(matched)["contentHash"] == "passed"
    other = json_of(http.post(VERIFY, json={"credentialId": bare, "file": b64(OTHER_FILE)}))
    assert other["verified"] is False and checks_of(other)["contentHash"] == "failed"
    assert other["verdict"] == "valid"  # the credential is fine; it is just not about this file
    assert any(error.startswith("contentHash:") for error in other["errors"])


def test_verify_a_jws_in_every_shape(http: FlaskClient, validation: dict[str, Any]) -> None:
    jws = validation["jws"]
    answers = [
        http.post(VERIFY, json={"jws": jws, "file": b64(ORIGINAL_FILE)}),
        http.post(VERIFY, data=jws, content_type="application/vc+jwt"),
        http.post(VERIFY, data={"credential": jws, "file": (io.BytesIO(ORIGINAL_FILE), "model.xml")}),
        http.post(VERIFY, data={"jws": jws}, content_type=MULTIPART),
        http.post(VERIFY, data={"credentialId": validation["id"], "file": (io.BytesIO(ORIGINAL_FILE), "m")}),
    ]
    for answer in answers:
        body = json_of(answer)
        assert answer.status_code == 200 and body["verified"] is True, body
        assert body["verdict"] == "valid" and checks_of(body)["signature"] == "passed"
    assert [checks_of(json_of(a))["contentHash"] for a in answers] == [
        "passed",
        "skipped",
        "passed",
        "skipped",
        "passed",
    ]
    mismatch = json_of(http.post(VERIFY, data={"credential": jws, "file": (io.BytesIO(OTHER_FILE), "model.xml")}))
    assert mismatch["verified"] is False and checks_of(mismatch)["contentHash"] == "failed"


def test_verify_reports_revocation_and_forgery(
    http: FlaskClient, auth: dict[str, str], validation: dict[str, Any]
) -> None:
    assert http.post(f"/api/v1/credentials/{validation['id']}/revoke", json={}, headers=auth).status_code == 200
    revoked = json_of(http.post(VERIFY, json={"credentialId": validation["id"]}))
    assert revoked["verified"] is False and revoked["verdict"] == "revoked"
    page = json_of(http.get(page_path(validation["id"]), headers=JSON))
    assert page["verdict"] == "revoked"
    header, payload, signature = validation["jws"].split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    answer = json_of(http.post(VERIFY, json={"jws": forged}))
    assert answer["verified"] is False and answer["verdict"] == "invalid"
    assert checks_of(answer)["signature"] == "failed"


def test_verify_by_id_keeps_an_open_badge_to_itself(http: FlaskClient, open_badge: dict[str, Any]) -> None:
    response = http.post(VERIFY, json={"credentialId": open_badge["id"]})
    body = json_of(response)
    assert body["verified"] is True and body["credential"] is None
    assert "ada@example.org" not in response.get_data(as_text=True)
    assert checks_of(body)["contentHash"] == "skipped"


@pytest.mark.parametrize(
    ("body", "status", "pointer"),
    [
        ({"credentialId": "urn:uuid:0", "jws": "a.b.c"}, 422, "/credentialId"),
        ({"credentialId": 7}, 422, "/credentialId"),
        ({"credentialId": ""}, 422, "/credentialId"),
        ({"credentialId": "https://example.org/c/1"}, 422, "/credentialId"),
        ({"jws": ["a.b.c"]}, 422, "/jws"),
        ({"credentialId": "urn:uuid:6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10", "extra": 1}, 422, "/extra"),
        ({"credentialId": "urn:uuid:6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10", "file": "not base64!"}, 422, "/file"),
        ({"credentialId": "urn:uuid:6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10", "file": 12}, 422, "/file"),
        ({"credentialId": "urn:uuid:6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10", "file": ""}, 422, "/file"),
        ({"credentialId": "urn:uuid:6d8f2d4c-7c0e-4a52-9bb9-7d8a0f3f6f10"}, 404, None),
    ],
)
def test_bad_verify_requests_are_4xx_naming_the_field(
    http: FlaskClient, body: dict[str, Any], status: int, pointer: str | None
) -> None:
    problem = problem_of(http.post(VERIFY, json=body), status)
    if pointer is not None:
        assert pointer in [error["pointer"] for error in problem["errors"]]


def test_more_bad_verify_requests(http: FlaskClient, validation: dict[str, Any]) -> None:
    too_big = b64(b"z" * (INLINE_FILE_MAX_BYTES + 1))
    problem_of(http.post(VERIFY, json={"credentialId": validation["id"], "file": too_big}), 413)
    problem_of(http.post(VERIFY, data=b"{not json", content_type="application/json"), 400)
    problem_of(http.post(VERIFY, data=b"", content_type="application/vc+jwt"), 422)
    problem_of(http.post(VERIFY, data={"file": (io.BytesIO(ORIGINAL_FILE), "m")}), 422)
    problem_of(http.post(VERIFY, data={"credentialId": validation["id"], "nonsense": "1"}, content_type=MULTIPART), 422)
    problem_of(
        http.post(VERIFY, data={"credentialId": validation["id"], "file": (io.BytesIO(b"x" * (FILE_LIMIT + 1)), "m")}),
        413,
    )
    garbage = json_of(http.post(VERIFY, json={"jws": "not-a-jws"}))
    assert garbage["verified"] is False and garbage["verdict"] == "invalid"
    assert checks_of(garbage)["format"] == "failed"


def test_the_vc_api_shape_still_needs_a_token(http: FlaskClient, validation: dict[str, Any]) -> None:
    for body in ({"verifiableCredential": validation["credential"]}, {"credential": {}}, [1], {}):
        response = http.post(VERIFY, json=body)
        problem_of(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with_both = {"verifiableCredential": validation["credential"], "credentialId": validation["id"]}
    problem_of(http.post(VERIFY, json=with_both), 401)


# --- certificate and badge -----------------------------------------------------------------------------------------


def _decoded_qr(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image)]


def _pdf_image(pdf: bytes) -> Image.Image:
    """The page image Pillow embeds in the PDF (a JPEG stream: /DCTDecode)."""
    assert b"/Subtype /Image" in pdf and b"/DCTDecode" in pdf
    start = pdf.index(b"\xff\xd8\xff", pdf.index(b"/DCTDecode"))
    end = pdf.index(b"endstream", start)
    return Image.open(io.BytesIO(pdf[start:end]))


def test_the_certificate_is_an_a4_pdf_with_the_pages_qr_code(http: FlaskClient, validation: dict[str, Any]) -> None:
    key = validation["id"].removeprefix("urn:uuid:")
    response = http.get(f"/credentials/{key}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert re.search(rb"/MediaBox \[ ?0 0 595\.\d* 842\.\d* ?\]", response.data)  # A4 in points
    page = _pdf_image(response.data)
    assert page.size == (1588, 2246)
    assert _decoded_qr(page) == [f"https://issuer.test/credentials/{key}/"]
    assert response.headers["Cache-Control"] == "no-cache"
    unchanged = http.get(f"/credentials/{key}/certificate.pdf", headers={"If-None-Match": response.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""


def test_a_certificate_is_drawn_once_for_repeated_requests(
    http: FlaskClient, validation: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[str] = []
    real = routes_verification.certificate_pdf

    def counting(*args: Any) -> bytes:
        drawn.append("certificate")
        return real(*args)

    monkeypatch.setattr(routes_verification, "certificate_pdf", counting)
    key = validation["id"].removeprefix("urn:uuid:")
    first, second = (http.get(f"/credentials/{key}/certificate.pdf") for _ in range(2))
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and first.headers["ETag"] == second.headers["ETag"]
    assert drawn == ["certificate"]


def test_the_badge_is_a_square_png_with_the_pages_qr_code(http: FlaskClient, validation: dict[str, Any]) -> None:
    key = validation["id"].removeprefix("urn:uuid:")
    response = http.get(f"/credentials/{key}/badge.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    badge = Image.open(io.BytesIO(response.data))
    assert badge.format == "PNG" and badge.size == (600, 600)
    assert _decoded_qr(badge) == [f"https://issuer.test/credentials/{key}/"]


def test_artefacts_of_a_revoked_credential_are_redrawn(
    http: FlaskClient, auth: dict[str, str], validation: dict[str, Any]
) -> None:
    key = validation["id"].removeprefix("urn:uuid:")
    before = http.get(f"/credentials/{key}/badge.png")
    assert http.post(f"/api/v1/credentials/{validation['id']}/revoke", json={}, headers=auth).status_code == 200
    after = http.get(f"/credentials/{key}/badge.png", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert after.data != before.data
    assert http.get(f"/credentials/{key}/certificate.pdf").status_code == 200


def test_artefacts_exist_for_validation_credentials_only(http: FlaskClient, open_badge: dict[str, Any]) -> None:
    key = open_badge["id"].removeprefix("urn:uuid:")
    for name in ("certificate.pdf", "badge.png"):
        problem_of(http.get(f"/credentials/{key}/{name}"), 404)
        problem_of(http.get(f"/credentials/{uuid.uuid4()}/{name}"), 404)
