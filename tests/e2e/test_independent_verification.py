"""Issued credentials verify with independent JOSE implementations, given only what the service publishes.

The app is served over real HTTP. Credentials are issued through the API; then PyJWT (with the JWK Sets),
the npm `jose` library (same JWK Set URLs, separate process) and plain `cryptography` (with the key found by
resolving the header's `kid` through the issuer's did:web document) verify them. Nothing on the
verification side touches the service's own code or database: only documents fetched over HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import format_datetime
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm
from tests.services import require_node
from tests.support import SettableClock, award_body, serve_in_thread

NODE_VERIFIER = Path(__file__).resolve().parent / "js" / "verify-vc-jwt.mjs"
NODE_TIMEOUT_SECONDS = 60
ALGORITHMS = ["ES256", "EdDSA"]
THUMBPRINT_KID = re.compile(r"^(did:web:[^#]+)#([A-Za-z0-9_-]{43})$")  # SHA-256 thumbprint: 43 characters
PUBLIC_HOST = "issuer.test"  # the host of ISSUER_BASE_URL in tests.support.make_settings


# --------------------------------------------------------------------------------------------- helpers


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64url(token.split(".", maxsplit=1)[0]))


def did_web_document_url(did: str) -> str:
    """did:web "Read (Resolve)": the method-specific id's ':' become '/', a port is percent-encoded, the
    document is /.well-known/did.json for a bare domain and <path>/did.json otherwise, always over https."""
    if not did.startswith("did:web:"):
        raise ValueError(f"not a did:web identifier: {did}")
    host, *path = (unquote(segment) for segment in did.removeprefix("did:web:").split(":"))
    if not path:
        return f"https://{host}/.well-known/did.json"
    return f"https://{host}/{'/'.join(path)}/did.json"


def verify_with_cryptography(token: str, jwk: dict[str, Any]) -> None:
    """Check a compact JWS with nothing but `cryptography` and the JWK. Raises InvalidSignature."""
    protected, payload, signature_text = token.split(".")
    signing_input = f"{protected}.{payload}".encode("ascii")
    signature = b64url(signature_text)
    alg = header_of(token)["alg"]
    if alg == "ES256":
        assert (jwk["kty"], jwk["crv"]) == ("EC", "P-256")
        public_numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url(jwk["x"]), "big"), int.from_bytes(b64url(jwk["y"]), "big"), ec.SECP256R1()
        )
        if len(signature) != 64:
            raise InvalidSignature("an ES256 signature is 64 bytes")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public_numbers.public_key().verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    elif alg == "EdDSA":
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        ed25519.Ed25519PublicKey.from_public_bytes(b64url(jwk["x"])).verify(signature, signing_input)
    else:
        raise AssertionError(f"unexpected alg {alg}")


def tamper_payload(token: str) -> str:
    """Change the credential's content (a valid JSON payload, properly encoded) but keep the signature."""
    protected, payload, signature = token.split(".")
    credential = json.loads(b64url(payload))
    credential["name"] = credential["name"] + " (with honours)"
    return f"{protected}.{b64url_text(json.dumps(credential).encode())}.{signature}"


def tamper_signature(token: str) -> str:
    """Flip one bit in the middle of the signature."""
    signing_input, signature_text = token.rsplit(".", 1)
    signature = bytearray(b64url(signature_text))
    signature[len(signature) // 2] ^= 0x01
    return f"{signing_input}.{b64url_text(bytes(signature))}"


TAMPERINGS = {"payload": tamper_payload, "signature": tamper_signature}


# --------------------------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Issued:
    case: str
    issuer_slug: str
    algorithm: str
    jws: str
    credential: dict[str, Any]


@dataclass(frozen=True)
class Deployment:
    url: str
    issued: list[Issued]

    def public(self, url: str) -> str:
        """A public https URL of the deployment (as did:web yields it), mapped to the live test server."""
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", PUBLIC_HOST), url
        return self.url + parts.path


@pytest.fixture
def root_issuer(container: Container) -> Issuer:
    """The root issuer, did:web:issuer.test, whose document is /.well-known/did.json."""
    created = container.issuers.create(
        CreateIssuer(slug="registry", name="Issuer Test Registry", url="https://issuer.test", root=True)
    )
    container.keys.generate(created, Algorithm.ES256)
    return created


@pytest.fixture
def deployment(
    container: Container, issuer: Issuer, root_issuer: Issuer, auth: dict[str, str], clock: SettableClock
) -> Iterator[Deployment]:
    """The app on a real port, with credentials of every kind issued through its API."""
    requests: dict[str, dict[str, Any]] = {
        "es256 email recipient": award_body(),
        "eddsa did recipient": award_body(recipient={"did": "did:example:learner-7"}, algorithm="EdDSA"),
        "with validUntil": award_body(validUntil=format_datetime(clock.now() + timedelta(days=365))),
        "caller-built document": {
            "issuer": "acme",
            "algorithm": "EdDSA",
            "credential": {
                "@context": [
                    "https://www.w3.org/ns/credentials/v2",
                    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
                ],
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "name": "Caller-built badge",
                "credentialSubject": {
                    "type": ["AchievementSubject"],
                    "id": "did:example:learner-8",
                    "achievement": {
                        "id": "https://acme.example/achievements/caller-built",
                        "type": ["Achievement"],
                        "name": "Caller-built",
                        "description": "Built by the caller, completed and signed by the service.",
                        "criteria": {"narrative": "Send a complete document."},
                    },
                },
            },
        },
        "root issuer": award_body(issuer="registry"),
    }
    with serve_in_thread(create_app(container)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        issued: list[Issued] = []
        for case, body in requests.items():
            response = client.post("/api/v1/credentials", json=body, headers=auth)
            assert response.status_code == 201, (case, response.text)
            answer = response.json()
            slug = body["issuer"]
            issued.append(Issued(case, slug, body.get("algorithm", "ES256"), answer["jws"], answer["credential"]))
        yield Deployment(server.url, issued)


# --------------------------------------------------------------------------------------------- the header


def test_the_header_is_exactly_vc_jwt_and_its_kid_names_the_issuer(deployment: Deployment) -> None:
    assert {item.algorithm for item in deployment.issued} == set(ALGORITHMS)
    for item in deployment.issued:
        header = header_of(item.jws)
        assert header == {"alg": item.algorithm, "typ": "vc+jwt", "cty": "vc", "kid": header["kid"]}, item.case
        kid = THUMBPRINT_KID.match(header["kid"])
        assert kid is not None, (item.case, header["kid"])
        assert kid.group(1) == item.credential["issuer"]["id"], item.case
        # The payload is the credential itself, exactly as the API returned it (no `vc` wrapper).
        assert json.loads(b64url(item.jws.split(".")[1])) == item.credential, item.case

    by_case = {item.case: item.credential for item in deployment.issued}
    assert by_case["root issuer"]["issuer"]["id"] == f"did:web:{PUBLIC_HOST}"
    assert by_case["es256 email recipient"]["issuer"]["id"] == f"did:web:{PUBLIC_HOST}:issuers:acme"
    assert "identifier" in by_case["es256 email recipient"]["credentialSubject"]
    assert by_case["eddsa did recipient"]["credentialSubject"]["id"] == "did:example:learner-7"
    assert "validUntil" in by_case["with validUntil"]
    assert by_case["caller-built document"]["name"] == "Caller-built badge"


# --------------------------------------------------------------------------------------------- (a) PyJWT


@pytest.mark.parametrize("jwks", ["issuer", "all-issuers"])
def test_pyjwt_verifies_with_the_published_jwk_set(deployment: Deployment, jwks: str) -> None:
    for item in deployment.issued:
        path = f"/issuers/{item.issuer_slug}/jwks.json" if jwks == "issuer" else "/.well-known/jwks.json"
        keys = jwt.PyJWKClient(deployment.url + path, cache_jwk_set=False)
        signing_key = keys.get_signing_key_from_jwt(item.jws)
        assert signing_key.key_id == header_of(item.jws)["kid"]

        claims = jwt.decode(item.jws, signing_key.key, algorithms=ALGORITHMS, options={"verify_aud": False})
        assert claims == item.credential, item.case
        complete = jwt.api_jws.decode_complete(item.jws, signing_key.key, algorithms=ALGORITHMS)
        assert json.loads(complete["payload"]) == item.credential
        assert complete["header"]["typ"] == "vc+jwt"


def test_pyjwt_finds_no_key_in_another_issuers_jwk_set(deployment: Deployment) -> None:
    root = next(item for item in deployment.issued if item.case == "root issuer")
    acme_keys = jwt.PyJWKClient(deployment.url + "/issuers/acme/jwks.json", cache_jwk_set=False)
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        acme_keys.get_signing_key_from_jwt(root.jws)


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_pyjwt_rejects_tampered_tokens(deployment: Deployment, tampering: str) -> None:
    keys = jwt.PyJWKClient(deployment.url + "/.well-known/jwks.json", cache_jwk_set=False)
    for item in deployment.issued:
        token = TAMPERINGS[tampering](item.jws)
        signing_key = keys.get_signing_key_from_jwt(token)
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, signing_key.key, algorithms=ALGORITHMS, options={"verify_aud": False})


# --------------------------------------------------------------------------------------------- (b) npm jose


def node_verify(jwks_url: str, tokens: list[str]) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [require_node(), str(NODE_VERIFIER), jwks_url],
        input="\n".join(tokens) + "\n",
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    answers = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    assert len(answers) == len(tokens), completed.stdout
    return answers


@pytest.mark.node
@pytest.mark.parametrize("jwks", ["issuer", "all-issuers"])
def test_node_jose_verifies_and_rejects_tampered_tokens(deployment: Deployment, jwks: str) -> None:
    groups: dict[str, list[Issued]] = {}
    for item in deployment.issued:
        path = f"/issuers/{item.issuer_slug}/jwks.json" if jwks == "issuer" else "/.well-known/jwks.json"
        groups.setdefault(deployment.url + path, []).append(item)

    for jwks_url, items in groups.items():
        tampered = [tamper(item.jws) for item in items for tamper in TAMPERINGS.values()]
        answers = node_verify(jwks_url, [item.jws for item in items] + tampered)

        genuine, forged = answers[: len(items)], answers[len(items) :]
        for item, answer in zip(items, genuine, strict=True):
            assert answer == {
                "ok": True,
                "alg": item.algorithm,
                "kid": header_of(item.jws)["kid"],
                "id": item.credential["id"],
            }, item.case
        for answer in forged:
            assert answer["ok"] is False
            assert "signature verification failed" in answer["error"], answer


# --------------------------------------------------------------------------------------------- (c) did:web


@pytest.mark.parametrize(
    ("did", "url"),
    [  # the first three are the did:web specification's own examples
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
        ("did:web:issuer.test:issuers:acme", "https://issuer.test/issuers/acme/did.json"),
    ],
)
def test_did_web_urls_follow_the_method_specification(did: str, url: str) -> None:
    assert did_web_document_url(did) == url


def test_the_kid_resolves_through_did_web_and_verifies_with_cryptography(deployment: Deployment) -> None:
    resolved_paths: set[str] = set()
    for item in deployment.issued:
        kid = header_of(item.jws)["kid"]
        did = kid.split("#", 1)[0]
        assert did == item.credential["issuer"]["id"], item.case

        url = deployment.public(did_web_document_url(did))
        resolved_paths.add(urlsplit(url).path)
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200, (item.case, url)
        assert response.headers["content-type"].startswith("application/did+json")
        document = response.json()
        assert document["id"] == did

        methods = [method for method in document["verificationMethod"] if method["id"] == kid]
        assert len(methods) == 1, (item.case, kid)
        method = methods[0]
        assert method["controller"] == did
        assert kid in document["assertionMethod"]  # a key for issuing credentials, not just any key
        jwk = method["publicKeyJwk"]
        assert "d" not in jwk

        verify_with_cryptography(item.jws, jwk)
        for tamper in TAMPERINGS.values():
            with pytest.raises(InvalidSignature):
                verify_with_cryptography(tamper(item.jws), jwk)

    assert resolved_paths == {"/issuers/acme/did.json", "/.well-known/did.json"}
