"""A real external OAuth 2.0 authorization server for the tests: panva's oidc-provider in a Node process.

`tests/e2e/js/authorization-server.mjs` runs three oidc-provider instances (see there): `main`, the server the
credential issuer under test is configured with; `impostor`, which claims main's issuer identifier but signs
with keys of its own; and `mirror`, which signs with main's keys under another issuer identifier. Tokens are
minted with the client_credentials grant; the `issuer_state` sent along is copied into the token, as a
deployment's server copies it from the wallet's authorization request.

Like the other Node helpers, it skips when Node.js or the npm package is missing, and fails in CI.
"""

from __future__ import annotations

import json
import select
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ec_issuer.config import ExternalAuthorizationServerSettings
from tests.services import require_node, unavailable

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "authorization-server.mjs"
START_TIMEOUT_SECONDS = 30
INTROSPECTING_CLIENT = "issuer"  # the credential issuer's own client at the server


@dataclass(frozen=True)
class AuthorizationServer:
    issuer: str
    jwks_uri: str
    introspection_endpoint: str
    token_endpoints: dict[str, str]  # main, impostor, mirror
    mirror_issuer: str
    client_secret: str

    def token(
        self,
        client: str = "rs256",
        *,
        issuer_state: str | None = None,
        resource: str | None = None,
        server: str = "main",
        dpop: str | None = None,
    ) -> str:
        """An access token from the client_credentials grant: a JWT for clients rs256, es256 and eddsa with a
        resource, else opaque; bound to the key of the `dpop` proof when one is given."""
        form = {"grant_type": "client_credentials"}
        if issuer_state is not None:
            form["issuer_state"] = issuer_state
        if resource is not None:
            form["resource"] = resource
        headers = {"DPoP": dpop} if dpop else {}
        response = httpx.post(
            self.token_endpoints[server], data=form, headers=headers, auth=(client, self.client_secret), timeout=10
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer["access_token"]

    def settings(self, **changes: Any) -> ExternalAuthorizationServerSettings:
        values: dict[str, Any] = {
            "issuer": self.issuer,
            "jwks_url": self.jwks_uri,
            "introspection_endpoint": self.introspection_endpoint,
            "client_id": INTROSPECTING_CLIENT,
            "client_secret": self.client_secret,
            "timeout_seconds": 5.0,
        }
        values.update(changes)
        return ExternalAuthorizationServerSettings(**values)


def require_oidc_provider() -> str:
    node = require_node()
    if not (JS_DIR / "node_modules" / "oidc-provider").is_dir():
        unavailable("npm package oidc-provider", "run `just dependencies` (npm ci --prefix tests/e2e/js)")
    return node


@contextmanager
def running_authorization_server() -> Iterator[AuthorizationServer]:
    node = require_oidc_provider()
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([node, str(SCRIPT)], cwd=JS_DIR, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
            line = process.stdout.readline() if ready else ""
            if not line:
                stderr.seek(0)
                raise AssertionError(f"authorization-server.mjs did not start (exit {process.poll()}): {stderr.read()}")
            started: dict[str, Any] = json.loads(line)
            yield AuthorizationServer(
                issuer=started["issuer"],
                jwks_uri=started["jwksUri"],
                introspection_endpoint=started["introspectionEndpoint"],
                token_endpoints=started["tokenEndpoints"],
                mirror_issuer=started["mirrorIssuer"],
                client_secret=started["clientSecret"],
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
