"""A real OID4VCI wallet for the tests: the OpenWallet Foundation's @openid4vc/openid4vci in a Node process.

`tests/e2e/js/oid4vci-wallet.mjs` runs the pre-authorized code flow of OpenID for Verifiable Credential Issuance
1.0 against the issuer under test with @openid4vc/openid4vci and @openid4vc/oauth2 (the client library inside
Credo and the Paradym wallet): it resolves the credential offer (by reference or by value), the credential issuer
and authorization server metadata, redeems the pre-authorized code (with a tx_code when given) for an access
token, fetches a `c_nonce` from the nonce endpoint, signs one `openid4vci-proof+jwt` per fresh holder key (jose:
ES256 on P-256 or EdDSA on Ed25519, named by `jwk`, a did:jwk or a did:key URL), requests the credentials with
``proofs: {"jwt": [...]}`` and can send a notification or repeat the credential request with the same token.

The library validates every response against its own schemas, so a run also checks our endpoints against a
second reading of the specification. Like the other Node helpers, it skips when Node.js or the npm packages are
missing, and fails in CI.

Request (all but ``offer`` optional)::

    {"offer": "openid-credential-offer://?credential_offer_uri=...", "txCode": "493536",
     "binding": "jwk" | "did:jwk" | "did:key", "alg": "ES256" | "EdDSA", "batch": 1,
     "configurationId": "<id>", "notify": "credential_accepted", "requestTwice": false}

Answer: ``credentialIssuer``, ``configurationId``, ``format``, ``display`` (the configuration's
``credential_metadata.display`` as the library read it), ``metadataVersion`` (the library's reading of the
metadata: "V1" for OID4VCI 1.0), ``credentialOffer``, ``credentials`` (strings for jwt_vc_json, objects for
ldp_vc), ``notificationId``, ``notificationSent``, ``holders`` (``{"did", "didUrl", "jwk"}`` per key, in proof
order; for the ``jwk`` binding ``did`` is the did:jwk of the sent JWK, whose members are in sorted order, and
``didUrl`` is None), ``accessToken``, ``tokenResponse``, ``nonce``, ``proofJwts``, ``http`` (every exchange:
``{"method", "url", "status"}``) and, with ``requestTwice``, ``secondCredentials`` (None when refused) and
``secondError`` (None when it succeeded; else an error object like the one below).

A failed run answers ``{"error": "<step>: <message>", "details": {"step", "name", "status", "body",
"errorResponse", "wwwAuthenticate", "issues", "cause", "http", ...}}`` (the members that apply) with exit
status 1; ``step`` is one of offer, metadata, token, nonce, proof, credential, notification, wallet.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.services import require_node, unavailable

JS_DIR = Path(__file__).resolve().parent / "js"
WALLET = JS_DIR / "oid4vci-wallet.mjs"
NODE_TIMEOUT_SECONDS = 60
WALLET_PACKAGES = ("@openid4vc/openid4vci", "@openid4vc/oauth2", "@openid4vc/utils")


def require_node_wallet() -> str:
    """`node`, with the npm packages of the wallet installed (skip locally, fail in CI)."""
    node = require_node()
    missing = [package for package in WALLET_PACKAGES if not (JS_DIR / "node_modules" / package).is_dir()]
    if missing:
        unavailable(f"npm packages {', '.join(missing)}", "run `just dependencies` (npm ci --prefix tests/e2e/js)")
    return node


def _run(request: dict[str, Any]) -> tuple[int, dict[str, Any], subprocess.CompletedProcess[str]]:
    completed = subprocess.run(
        [require_node_wallet(), str(WALLET)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
        cwd=JS_DIR,
    )
    try:
        answer: object = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"oid4vci-wallet.mjs (exit {completed.returncode}) printed no JSON answer\n"
            f"stdout: {completed.stdout}\nstderr: {completed.stderr}"
        ) from None
    assert isinstance(answer, dict), f"oid4vci-wallet.mjs answered a non-object: {completed.stdout}"
    answer_object: dict[str, Any] = answer  # pyright: ignore[reportUnknownVariableType]
    return completed.returncode, answer_object, completed


def run_wallet(request: dict[str, Any]) -> dict[str, Any]:
    """Run the wallet; its answer. AssertionError (with the wallet's error, stdout and stderr) if it failed."""
    returncode, answer, completed = _run(request)
    assert returncode == 0 and "error" not in answer, (
        f"oid4vci-wallet.mjs failed (exit {returncode}): {answer.get('error')}\n"
        f"details: {json.dumps(answer.get('details'), indent=2)}\nstderr: {completed.stderr}"
    )
    return answer


def wallet_error(request: dict[str, Any]) -> dict[str, Any]:
    """Run the wallet expecting it to fail; its error answer ``{"error": ..., "details": {...}}``."""
    returncode, answer, completed = _run(request)
    assert returncode != 0 and "error" in answer, (
        f"oid4vci-wallet.mjs was expected to fail but succeeded (exit {returncode})\n"
        f"answer: {completed.stdout}\nstderr: {completed.stderr}"
    )
    return answer
