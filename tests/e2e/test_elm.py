"""European Digital Credentials over HTTP: issue (alone or beside an Open Badge), download, public links,
verification (ours and jwcrypto's), the official samples, and the 4xx answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageStat
from sqlalchemy import select

from ec_issuer.bootstrap import Container, build
from ec_issuer.custody.eseal import DevelopmentESealFiles
from ec_issuer.elm import issuing as elm_issuing
from ec_issuer.elm.shapes import check_credential
from ec_issuer.storage.tables import outbox_events
from tests.elm_support import eseal_settings, micro_credential_body, write_test_eseal
from tests.support import SettableClock, award_body, make_settings
from tests.unit.elm_seal_support import flip_one_payload_character, jwcrypto_verify

SAMPLES = Path(__file__).parent.parent / "fixtures" / "elm"


@pytest.fixture(scope="session")
def eseal_files(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentESealFiles:
    return write_test_eseal(tmp_path_factory.mktemp("eseal"))


@pytest.fixture
def container(
    database_url: str, tmp_path: Path, clock: SettableClock, eseal_files: DevelopmentESealFiles
) -> Iterator[Container]:
    built = build(make_settings(database_url, tmp_path, elm_seal=eseal_settings(eseal_files)), clock=clock)
    yield built
    built.engine.dispose()


def _issue(http: FlaskClient, auth: dict[str, str], body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = http.post("/api/v1/credentials", json=body, headers={**auth, **headers})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _public_path(url: str) -> str:
    return url.removeprefix("https://issuer.test")


@pytest.mark.usefixtures("issuer")
def test_an_award_gives_an_open_badge_and_a_sealed_edc(http: FlaskClient, auth: dict[str, str]) -> None:
    issued = _issue(http, auth, micro_credential_body())
    assert issued["family"] == "open-badges-3.0"
    europass = issued["europass"]
    assert issued["companionId"] == europass["credentialId"]
    assert europass["credentialId"].startswith("urn:credential:")

    download = http.get(europass["download"], headers=auth)
    assert download.status_code == 200
    assert download.mimetype == "application/ld+json"
    assert download.headers["Content-Disposition"] == 'attachment; filename="Data Science Fundamentals.jsonld"'
    sealed = download.get_data(as_text=True)
    envelope = json.loads(sealed)
    edc = json.loads(envelope["payload"])
    assert edc["id"] == europass["credentialId"]
    assert edc["type"] == ["VerifiableCredential", "EuropeanDigitalCredential"]
    report = check_credential(edc)
    assert report.conforms and report.credential_nodes == 1, [v.describe() for v in report.violations]
    jwcrypto_verify(sealed)  # an independent JOSE implementation accepts the seal

    # The same file by the Open Badge's id, and the EDC's own record, which points back.
    by_badge = http.get(f"/api/v1/credentials/{issued['id']}/elm", headers=auth)
    assert by_badge.get_data(as_text=True) == sealed
    record = http.get(f"/api/v1/credentials/{europass['credentialId']}", headers=auth).get_json()
    assert record["family"] == "elm-3.2" and record["format"] == "jades" and record["kid"] is None
    assert record["companionId"] == issued["id"]
    assert record["credential"] == edc


@pytest.mark.usefixtures("issuer")
def test_the_rendered_page_is_an_a4_image_with_content(http: FlaskClient, auth: dict[str, str]) -> None:
    issued = _issue(http, auth, micro_credential_body())
    sealed = json.loads(http.get(issued["europass"]["download"], headers=auth).get_data())
    edc = json.loads(sealed["payload"])
    detail = edc["displayParameter"]["individualDisplay"][0]["displayDetail"][0]
    assert detail["page"] == 1
    image = Image.open(io.BytesIO(base64.b64decode(detail["image"]["content"])))
    assert image.size == (794, 1123)
    assert detail["image"]["contentType"]["id"].endswith(f"/file-type/{image.format}")
    spread = ImageStat.Stat(image.convert("L")).stddev[0]
    assert spread > 10, "the page looks blank"


@pytest.mark.usefixtures("issuer")
def test_an_edc_alone(http: FlaskClient, auth: dict[str, str]) -> None:
    body = micro_credential_body(produce=["elm-3.2"])
    issued = _issue(http, auth, body)
    assert issued["family"] == "elm-3.2"
    assert issued["id"].startswith("urn:credential:")
    assert issued["companionId"] is None and issued["jws"] is None
    assert issued["europass"]["credentialId"] == issued["id"]
    bare_uuid = issued["id"].removeprefix("urn:credential:")
    assert http.get(f"/api/v1/credentials/{bare_uuid}/elm", headers=auth).status_code == 200
    listed = http.get("/api/v1/credentials", headers=auth).get_json()["items"]
    assert [item["family"] for item in listed] == ["elm-3.2"]


@pytest.mark.usefixtures("issuer")
def test_the_public_link_works_without_a_token_until_revoked(http: FlaskClient, auth: dict[str, str]) -> None:
    issued = _issue(http, auth, micro_credential_body())
    link = _public_path(issued["europass"]["publicDownload"])
    public = http.get(link)
    assert public.status_code == 200
    assert public.headers["Cache-Control"] == "no-store"
    assert public.get_data() == http.get(issued["europass"]["download"], headers=auth).get_data()

    minted = http.post(f"/api/v1/credentials/{issued['id']}/elm/link", headers=auth)
    assert minted.status_code == 201
    new_link = _public_path(minted.get_json()["publicDownload"])
    assert http.get(link).status_code == 404  # the new link replaces the old one
    assert http.get(new_link).status_code == 200

    edc_id = issued["europass"]["credentialId"]
    revoked = http.post(f"/api/v1/credentials/{edc_id}/revoke", json={"reason": "issued in error"}, headers=auth)
    assert revoked.status_code == 200, revoked.get_json()
    gone = http.get(new_link)
    assert gone.status_code == 410
    assert gone.mimetype == "application/problem+json"
    assert http.get(issued["europass"]["download"], headers=auth).status_code == 200  # admins still get it
    assert http.get("/europass/not-a-token").status_code == 404


@pytest.mark.usefixtures("issuer")
def test_verification_of_stored_uploaded_and_tampered_files(http: FlaskClient, auth: dict[str, str]) -> None:
    issued = _issue(http, auth, micro_credential_body())
    edc_id = issued["europass"]["credentialId"]
    stored = http.post("/api/v1/credentials/verify", json={"credentialId": edc_id}, headers=auth).get_json()
    assert stored["verified"] is True, stored["errors"]
    results = {check["check"]: check["result"] for check in stored["checks"]}
    assert results == {
        "format": "passed",
        "seal": "passed",
        "certificate": "passed",
        "shapes": "passed",
        "validity": "passed",
        "status": "passed",
    }

    sealed = http.get(issued["europass"]["download"], headers=auth).get_data(as_text=True)
    uploaded = http.post("/api/v1/credentials/verify", json={"credential": json.loads(sealed)}, headers=auth)
    assert uploaded.get_json()["verified"] is True

    tampered = json.loads(flip_one_payload_character(sealed))
    answer = http.post("/api/v1/credentials/verify", json={"credential": tampered}, headers=auth).get_json()
    assert answer["verified"] is False
    assert {c["check"]: c["result"] for c in answer["checks"]}["seal"] == "failed"

    http.post(f"/api/v1/credentials/{edc_id}/revoke", json={"reason": "issued in error"}, headers=auth)
    after = http.post("/api/v1/credentials/verify", json={"credentialId": edc_id}, headers=auth).get_json()
    assert after["verified"] is False
    assert after["status"] == "revoked"


@pytest.mark.parametrize("name", ["Sample-CertOfPart-signed.jsonld", "Sample-MC-Annex1-signed.jsonld"])
def test_the_official_samples_verify_with_an_expired_untrusted_certificate(
    http: FlaskClient, auth: dict[str, str], name: str
) -> None:
    sealed = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    answer = http.post("/api/v1/credentials/verify", json={"credential": sealed}, headers=auth).get_json()
    checks = {check["check"]: check for check in answer["checks"]}
    assert checks["seal"]["result"] == "passed"
    assert checks["shapes"]["result"] == "passed"
    assert checks["certificate"]["result"] == "skipped"  # reported, not failed
    assert "expired" in checks["certificate"]["detail"]
    assert "valid at the claimed signing time" in checks["certificate"]["detail"]

    tampered = json.loads(flip_one_payload_character((SAMPLES / name).read_text(encoding="utf-8")))
    failed = http.post("/api/v1/credentials/verify", json={"credential": tampered}, headers=auth).get_json()
    assert failed["verified"] is False
    assert {c["check"]: c["result"] for c in failed["checks"]}["seal"] == "failed"


@pytest.mark.usefixtures("issuer")
def test_a_retry_with_the_same_key_answers_with_the_same_pair(http: FlaskClient, auth: dict[str, str]) -> None:
    body = micro_credential_body()
    first = _issue(http, auth, body, **{"Idempotency-Key": "award-42"})
    again = http.post("/api/v1/credentials", json=body, headers={**auth, "Idempotency-Key": "award-42"})
    assert again.headers["Idempotent-Replayed"] == "true"
    replay = again.get_json()
    assert replay["id"] == first["id"]
    assert replay["europass"]["credentialId"] == first["europass"]["credentialId"]
    assert replay["europass"]["publicDownload"] is None  # only its hash is kept
    assert len(http.get("/api/v1/credentials", headers=auth).get_json()["items"]) == 2


@pytest.mark.usefixtures("issuer")
def test_both_credentials_are_announced(http: FlaskClient, auth: dict[str, str], container: Container) -> None:
    issued = _issue(http, auth, micro_credential_body())
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(outbox_events.c.envelope).where(outbox_events.c.type.like("%credential.issued"))
        ).all()
    events = [json.loads(row.envelope) for row in rows]
    families = {e["data"]["credentialId"]: e["data"]["family"] for e in events}
    assert families == {issued["id"]: "open-badges-3.0", issued["europass"]["credentialId"]: "elm-3.2"}


@pytest.mark.usefixtures("issuer")
@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda b: b.pop("europass"), "/europass"),
        (lambda b: b["europass"]["learner"].clear(), "/europass/learner"),
        (lambda b: b["europass"].update(eqfLevel=9), "/europass/eqfLevel"),
        (lambda b: b["europass"].update(thematicAreas=["0000"]), "/europass/thematicAreas/0"),
        (lambda b: b["europass"].update(mode="by carrier pigeon"), "/europass/mode"),
        (lambda b: b.update(produce=["elm-3.2", "elm-3.2"]), "/produce"),
        (lambda b: b.update(produce=["elm-4"]), "/produce/0"),
        (lambda b: b["achievement"].update(image="data:image/png;base64,bm90IGFuIGltYWdl"), "/achievement/image"),
    ],
)
def test_bad_europass_input_is_a_422_naming_the_field(
    http: FlaskClient, auth: dict[str, str], change: Any, pointer: str
) -> None:
    body = micro_credential_body()
    change(body)
    response = http.post("/api/v1/credentials", json=body, headers=auth)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    pointers = [error["pointer"] for error in response.get_json()["errors"]]
    assert any(p.startswith(pointer) for p in pointers), pointers
    assert http.get("/api/v1/credentials", headers=auth).get_json()["items"] == []  # nothing stored


@pytest.mark.usefixtures("issuer")
def test_a_shape_violation_is_a_422_listing_each_violation(
    http: FlaskClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = elm_issuing.build_edc

    def without_issued(edc: Any) -> dict[str, Any]:
        document = real_build(edc)
        del document["issued"]
        return document

    monkeypatch.setattr(elm_issuing, "build_edc", without_issued)
    response = http.post("/api/v1/credentials", json=micro_credential_body(), headers=auth)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert len(errors) == 1
    assert "https://www.w3.org/2018/credentials#issued" in errors[0]["detail"]
    assert errors[0]["detail"].startswith("urn:credential:")  # the focus node, then the path and message
    [violation] = response.get_json()["violations"]
    assert violation["focusNode"].startswith("urn:credential:")
    assert violation["path"] == "https://www.w3.org/2018/credentials#issued"
    assert violation["message"]
    assert http.get("/api/v1/credentials", headers=auth).get_json()["items"] == []


def test_without_an_eseal_no_edc_is_issued(database_url: str, tmp_path: Path, clock: SettableClock) -> None:
    from ec_issuer.api.app import create_app
    from ec_issuer.issuers.commands import CreateIssuer
    from ec_issuer.keys.model import Algorithm

    container = build(make_settings(database_url, tmp_path), clock=clock)
    try:
        issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME University"))
        container.keys.generate(issuer, Algorithm.ES256)
        container.access.ensure_bootstrap_client("t" * 40)
        http = create_app(container).test_client()
        auth = {"Authorization": "Bearer " + "t" * 40}
        refused = http.post("/api/v1/credentials", json=micro_credential_body(), headers=auth)
        assert refused.status_code == 400
        assert [e["pointer"] for e in refused.get_json()["errors"]] == ["/produce"]
        assert http.post("/api/v1/credentials", json=award_body(), headers=auth).status_code == 201
    finally:
        container.engine.dispose()


def test_a_seal_key_held_by_a_custody_backend(database_url: str, tmp_path: Path, clock: SettableClock) -> None:
    """The key-custody port seals too (ES256): here the local keystore, configured like an HSM or KMS key."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    from ec_issuer.api.app import create_app
    from ec_issuer.bootstrap import prepare
    from ec_issuer.config import ElmSealSettings
    from ec_issuer.custody.eseal import EXAMPLE_SUBJECT, create_throwaway_authority
    from ec_issuer.custody.local import LocalKeyCustody
    from ec_issuer.issuers.commands import CreateIssuer
    from ec_issuer.keys.jwk import public_key_from_jwk
    from ec_issuer.keys.model import Algorithm
    from tests.support import TEST_SECRET

    generated = LocalKeyCustody(tmp_path / "keys", TEST_SECRET).generate(Algorithm.ES256)
    authority = create_throwaway_authority("ec", subject=EXAMPLE_SUBJECT)
    public_key = public_key_from_jwk(generated.public_jwk)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    certificate = authority.issue(public_key, EXAMPLE_SUBJECT)
    chain = tmp_path / "seal-chain.pem"
    chain.write_bytes(certificate.public_bytes(Encoding.PEM) + authority.certificate.public_bytes(Encoding.PEM))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(authority.certificate.public_bytes(Encoding.PEM))
    seal = ElmSealSettings(
        None, None, "ES256", anchors, key_backend="local", key_ref=generated.key_ref, certificate_chain_path=chain
    )
    container = build(make_settings(database_url, tmp_path, elm_seal=seal, auto_upgrade=True), clock=clock)
    try:
        prepare(container)  # opens the seal and makes a probe seal, as at start-up
        issuer = container.issuers.create(CreateIssuer(slug="acme", name="ACME University"))
        container.keys.generate(issuer, Algorithm.ES256)
        container.access.ensure_bootstrap_client("k" * 40)
        http = create_app(container).test_client()
        auth = {"Authorization": "Bearer " + "k" * 40}
        issued = _issue(http, auth, micro_credential_body(produce=["elm-3.2"]))
        sealed = http.get(issued["europass"]["download"], headers=auth).get_data(as_text=True)
        assert json.loads(sealed)["signatures"][0]["protected"]
        jwcrypto_verify(sealed)
        answer = http.post("/api/v1/credentials/verify", json={"credentialId": issued["id"]}, headers=auth)
        checks = {c["check"]: c for c in answer.get_json()["checks"]}
        assert checks["seal"]["result"] == "passed" and "ES256" in checks["seal"]["detail"]
        assert checks["certificate"]["result"] == "passed"
    finally:
        container.engine.dispose()


@pytest.mark.usefixtures("issuer")
def test_the_badge_and_its_edc_share_revocation_suspension_and_reinstatement(
    http: FlaskClient, auth: dict[str, str]
) -> None:
    issued = _issue(http, auth, micro_credential_body())
    badge, edc = issued["id"], issued["europass"]["credentialId"]

    def status(credential_id: str) -> str:
        return http.get(f"/api/v1/credentials/{credential_id}", headers=auth).get_json()["status"]

    suspended = http.post(f"/api/v1/credentials/{edc}/suspend", json={"reason": "under review"}, headers=auth)
    assert suspended.status_code == 200
    assert (status(badge), status(edc)) == ("suspended", "suspended")
    http.post(f"/api/v1/credentials/{badge}/reinstate", json={}, headers=auth)
    assert (status(badge), status(edc)) == ("active", "active")
    http.post(f"/api/v1/credentials/{badge}/revoke", json={"reasonCode": "fraud", "reason": "forged"}, headers=auth)
    assert (status(badge), status(edc)) == ("revoked", "revoked")
    history = http.get(f"/api/v1/credentials/{edc}/history", headers=auth).get_json()["events"]
    assert [(e["event"], e["reasonCode"]) for e in history] == [
        ("issued", None),
        ("suspended", None),
        ("reinstated", None),
        ("revoked", "fraud"),
    ]
    assert http.get(_public_path(issued["europass"]["publicDownload"])).status_code == 410
