"""An independent Data Integrity verifier: the Digital Bazaar stack (npm), in a separate Node process, offline.

`tests/e2e/js/verify-di.mjs` checks `DataIntegrityProof` proofs with the `eddsa-rdfc-2022` and
`ecdsa-rdfc-2019` (P-256) cryptosuites, using @digitalbazaar/vc, @digitalbazaar/data-integrity and the two
cryptosuite packages. It never touches the network: its document loader (`di-document-loader.mjs`) serves
the project's vendored contexts (src/ec_issuer/resources/contexts/index.json), the contexts the npm packages
bundle, did:key documents (z6Mk… Ed25519, zDn… P-256) resolved locally, and documents handed in by the caller
(a did:web issuer's DID document); any other URL is refused with an error naming it.

These tests establish that the verifier is trustworthy before other tests rely on it: it accepts the W3C
eddsa-rdfc-2022 test vector and rejects tampered copies, and it verifies (and, tampered, rejects) credentials
signed in Node with ecdsa-rdfc-2019 and eddsa-rdfc-2022, both by did:key and by a did:web issuer whose DID
document is given to it. Other tests import `node_verify_di` to check the credentials the service issues.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.services import require_node, unavailable

JS_DIR = Path(__file__).resolve().parent / "js"
DI_VERIFIER = JS_DIR / "verify-di.mjs"
DI_SIGNER = JS_DIR / "sign-di.mjs"
NODE_TIMEOUT_SECONDS = 60
DI_PACKAGES = (
    "@digitalbazaar/vc",
    "@digitalbazaar/vc-bitstring-status-list",
    "@digitalbazaar/data-integrity",
    "@digitalbazaar/eddsa-rdfc-2022-cryptosuite",
    "@digitalbazaar/ecdsa-rdfc-2019-cryptosuite",
    "@digitalbazaar/did-method-key",
    "jsonld-signatures",
)

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS_INDEX = ROOT / "src" / "ec_issuer" / "resources" / "contexts" / "index.json"
PROJECT_CONTEXTS = "project:src/ec_issuer/resources/contexts"
FIXTURES = ROOT / "tests" / "fixtures"
W3C_VECTOR = FIXTURES / "vc-di-eddsa" / "signedDataInt.json"  # if the project vendors the signed vectors
W3C_VECTOR_COPY = FIXTURES / "vc-di-eddsa-node" / "signedDataInt.json"  # see its PROVENANCE.md
W3C_VECTOR_SHA256 = "0867c0b2e086a29901c6d53851dd87590c152b6e4959bb835e5edf7294bfb895"
W3C_VECTOR_KEY = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --------------------------------------------------------------------------------------------- the helpers


def require_node_di() -> str:
    """`node`, with the npm packages of the Data Integrity verifier installed (skip locally, fail in CI)."""
    node = require_node()
    missing = [package for package in DI_PACKAGES if not (JS_DIR / "node_modules" / package).is_dir()]
    if missing:
        unavailable(f"npm packages {', '.join(missing)}", "run `just dependencies` (npm ci --prefix tests/e2e/js)")
    return node


def _run_node(script: Path, payload: object, *arguments: str) -> str:
    completed = subprocess.run(
        [require_node_di(), str(script), *arguments],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def node_verify_di(
    credentials: Sequence[dict[str, Any]],
    documents: dict[str, dict[str, Any]] | None = None,
    *,
    proof_only: bool = False,
    now: str | None = None,
) -> list[dict[str, Any]]:
    """Verify credentials with the Digital Bazaar Data Integrity stack in Node, offline.

    `documents` maps URL -> JSON document for the verifier's document loader: for a did:web issuer, its DID
    (e.g. "did:web:issuer.test:issuers:acme") -> its DID document; verification methods (DID URLs with a
    fragment) are then found inside it. did:key methods (z6Mk…, zDn…) need nothing. By default each credential
    is checked as a Verifiable Credential (proof, issuer == the verification method's controller, validity
    period at `now`, an RFC 3339 string, default the current time); `proof_only` checks only the proof, for
    the assertionMethod purpose. Returns one `{"ok": bool, "errors": [str, ...]}` per credential, in order.
    """
    payload: dict[str, Any] = {"credentials": list(credentials), "documents": documents or {}, "proofOnly": proof_only}
    if now is not None:
        payload["now"] = now
    stdout = _run_node(DI_VERIFIER, payload)
    answers = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert len(answers) == len(credentials), stdout
    return answers


@dataclass(frozen=True)
class SignedInNode:
    credentials: list[dict[str, Any]]
    verification_method: str
    documents: dict[str, dict[str, Any]]


def node_sign_di(
    cryptosuite: str,
    credentials: Sequence[dict[str, Any]],
    *,
    controller: str | None = None,
    method_type: str = "Multikey",
) -> SignedInNode:
    """Sign credentials in Node (sign-di.mjs) with a fresh key: a did:key, or `controller` (a did:web DID, whose
    DID document, with a `method_type` verification method, comes back in `documents`). The issuer of each
    credential becomes the key's controller."""
    request: dict[str, Any] = {"cryptosuite": cryptosuite, "credentials": list(credentials), "methodType": method_type}
    if controller is not None:
        request["controller"] = controller
    answer = json.loads(_run_node(DI_SIGNER, request))
    return SignedInNode(answer["credentials"], answer["verificationMethod"], answer["documents"])


def tamper_subject(credential: dict[str, Any]) -> dict[str, Any]:
    """Change one claim about the subject (the first string value besides `id`), keep the proof."""
    forged = copy.deepcopy(credential)
    subject = forged["credentialSubject"]
    claim = next(key for key, value in subject.items() if key != "id" and isinstance(value, str))
    subject[claim] += " (forged)"
    return forged


def tamper_proof_value(credential: dict[str, Any]) -> dict[str, Any]:
    """Change one character in the middle of the base58btc proofValue (it stays valid base58btc)."""
    forged = copy.deepcopy(credential)
    value: str = forged["proof"]["proofValue"]
    middle = len(value) // 2
    replacement = next(character for character in BASE58 if character != value[middle])
    forged["proof"]["proofValue"] = value[:middle] + replacement + value[middle + 1 :]
    return forged


TAMPERINGS = {"credentialSubject": tamper_subject, "proofValue": tamper_proof_value}


def unsigned_credential(name: str) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:5d1f3c1e-8b0e-4d43-9d53-8a0b6f3f2a10",
        "type": ["VerifiableCredential", "ExampleCredential"],
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:learner-1", "name": name},
    }


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def w3c_vector() -> dict[str, Any]:
    """The W3C vc-di-eddsa eddsa-rdfc-2022 signed credential (signedDataInt.json)."""
    if W3C_VECTOR.exists():
        return json.loads(W3C_VECTOR.read_text(encoding="utf-8"))
    return json.loads(W3C_VECTOR_COPY.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=["ecdsa-rdfc-2019", "eddsa-rdfc-2022"])
def signed_by_did_key(request: pytest.FixtureRequest) -> tuple[str, SignedInNode]:
    cryptosuite: str = request.param
    return cryptosuite, node_sign_di(cryptosuite, [unsigned_credential(f"Signed with {cryptosuite}")])


@dataclass
class ContextServer:
    url: str
    requests: list[str]


@pytest.fixture
def context_server() -> Iterator[ContextServer]:
    """A local HTTP server that would serve a valid context, and records every request it gets."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = json.dumps({"@context": {"@vocab": "https://example.org/vocab#"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ContextServer(f"http://127.0.0.1:{server.server_address[1]}/context.jsonld", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------------------------- the vector


def test_the_vendored_w3c_vector_is_the_recorded_copy() -> None:
    assert hashlib.sha256(W3C_VECTOR_COPY.read_bytes()).hexdigest() == W3C_VECTOR_SHA256


@pytest.mark.node
def test_contexts_come_from_the_vendored_directory_first_then_the_packages(w3c_vector: dict[str, Any]) -> None:
    served: dict[str, str] = json.loads(_run_node(DI_VERIFIER, None, "--list-contexts"))
    vendored: dict[str, str] = json.loads(CONTEXTS_INDEX.read_text(encoding="utf-8"))
    assert {url: served[url] for url in vendored} == dict.fromkeys(vendored, PROJECT_CONTEXTS)
    for url in w3c_vector["@context"]:
        assert served[url] == PROJECT_CONTEXTS, url
    bundled = {url: source for url, source in served.items() if url not in vendored}
    assert bundled == {
        "https://w3id.org/security/data-integrity/v2": "npm:@digitalbazaar/data-integrity-context",
        "https://w3id.org/security/multikey/v1": "npm:@digitalbazaar/multikey-context",
        "https://w3id.org/security/v1": "npm:jsonld-signatures",
        "https://w3id.org/security/v2": "npm:jsonld-signatures",
    }


@pytest.mark.node
def test_the_w3c_eddsa_rdfc_2022_vector_verifies(w3c_vector: dict[str, Any]) -> None:
    assert w3c_vector["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert w3c_vector["proof"]["verificationMethod"].startswith(W3C_VECTOR_KEY + "#")
    assert node_verify_di([w3c_vector], proof_only=True) == [{"ok": True, "errors": []}]


@pytest.mark.node
def test_as_a_credential_the_vector_fails_because_its_issuer_is_not_the_keys_controller(
    w3c_vector: dict[str, Any],
) -> None:
    """The full VC check binds the issuer to the key: the vector's issuer is an https URL, the key a did:key."""
    [answer] = node_verify_di([w3c_vector])
    assert answer == {"ok": False, "errors": ["Credential issuer must match the verification method controller."]}


@pytest.mark.node
@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_tampered_w3c_vector_fails(w3c_vector: dict[str, Any], tampering: str) -> None:
    forged = TAMPERINGS[tampering](w3c_vector)
    assert forged != w3c_vector
    [answer] = node_verify_di([forged], proof_only=True)
    assert answer == {"ok": False, "errors": ["Invalid signature."]}


# --------------------------------------------------------------------------------------------- signed in Node


@pytest.mark.node
def test_credentials_signed_in_node_verify_and_tampered_copies_fail(
    signed_by_did_key: tuple[str, SignedInNode],
) -> None:
    cryptosuite, signed = signed_by_did_key
    [credential] = signed.credentials
    proof = credential["proof"]
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof",
        cryptosuite,
        "assertionMethod",
    )
    prefix = "did:key:zDn" if cryptosuite == "ecdsa-rdfc-2019" else "did:key:z6Mk"  # P-256 / Ed25519
    assert signed.verification_method.startswith(prefix)
    assert proof["verificationMethod"] == signed.verification_method
    assert credential["issuer"] == signed.verification_method.split("#")[0]

    forged = [tamper(credential) for tamper in TAMPERINGS.values()]
    genuine, *rejected = node_verify_di([credential, *forged])  # full VC check, one process, in order
    assert genuine == {"ok": True, "errors": []}
    assert rejected == [{"ok": False, "errors": ["Invalid signature."]}] * len(TAMPERINGS)
    assert node_verify_di([credential], proof_only=True) == [{"ok": True, "errors": []}]


@pytest.mark.node
def test_the_validity_period_is_checked_at_now(signed_by_did_key: tuple[str, SignedInNode]) -> None:
    _, signed = signed_by_did_key
    [answer] = node_verify_di(signed.credentials, now="2024-12-31T00:00:00Z")
    assert answer["ok"] is False
    assert any("validFrom" in error for error in answer["errors"]), answer


@pytest.mark.node
@pytest.mark.parametrize("cryptosuite", ["ecdsa-rdfc-2019", "eddsa-rdfc-2022"])
@pytest.mark.parametrize("method_type", ["Multikey", "JsonWebKey2020"])
def test_a_did_web_issuer_verifies_with_its_did_document_given(cryptosuite: str, method_type: str) -> None:
    did = "did:web:issuer.test:issuers:acme"
    signed = node_sign_di(
        cryptosuite, [unsigned_credential("Issued by did:web")], controller=did, method_type=method_type
    )
    [credential] = signed.credentials
    assert credential["issuer"] == did
    assert signed.verification_method == f"{did}#key-1"
    assert signed.documents[did]["verificationMethod"][0]["type"] == method_type

    genuine, *rejected = node_verify_di([credential, tamper_subject(credential)], signed.documents)
    assert genuine == {"ok": True, "errors": []}
    assert rejected == [{"ok": False, "errors": ["Invalid signature."]}]

    # Another key's DID document under the same DID: the signature does not verify.
    other = node_sign_di(cryptosuite, [unsigned_credential("x")], controller=did, method_type=method_type)
    assert node_verify_di([credential], other.documents) == [{"ok": False, "errors": ["Invalid signature."]}]


# --------------------------------------------------------------------------------------------- offline


@pytest.mark.node
def test_without_its_did_document_a_did_web_credential_fails_naming_the_url() -> None:
    signed = node_sign_di("ecdsa-rdfc-2019", [unsigned_credential("x")], controller="did:web:issuer.test")
    [answer] = node_verify_di(signed.credentials)
    assert answer["ok"] is False
    assert len(answer["errors"]) == 1
    assert answer["errors"][0].startswith("refusing to load did:web:issuer.test#key-1:"), answer


@pytest.mark.node
def test_unknown_urls_are_refused_and_never_fetched(
    signed_by_did_key: tuple[str, SignedInNode], context_server: ContextServer
) -> None:
    _, signed = signed_by_did_key
    with_remote_context = copy.deepcopy(signed.credentials[0])
    with_remote_context["@context"].append(context_server.url)
    p384_key = copy.deepcopy(signed.credentials[0])  # did:key z82L… is P-384: not one of the two suites' keys
    p384_key["proof"]["verificationMethod"] = "did:key:z82LkvCwHNreneWpsgPEbV3gu1C6NFJEBg4srfJ5gdxEsMGRJ#z82L"

    remote, p384 = node_verify_di([with_remote_context, p384_key])
    assert remote["ok"] is False
    assert any(f"refusing to load {context_server.url}" in error for error in remote["errors"]), remote
    assert context_server.requests == []
    assert p384["ok"] is False
    assert any("unsupported did:key" in error for error in p384["errors"]), p384
