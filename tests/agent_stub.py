"""A local stand-in for the UniCore ssi-agent's admin API, served over real HTTP, that records every call.

It keeps templates, credentials and offers as the agent does, answers `POST /v0/offers` with the offer link
as text/plain, and gives each credential an id in `Location`. Tests make it fail one path at a time: an
HTTP status, a body that is not what the call returns, or an answer later than the client waits.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from ec_issuer.config import SsiAgentSettings
from tests.support import serve_in_thread

PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
AGENT_TOKEN = "agent-admin-token"
WEBHOOK_SECRET = "webhook-secret-" + "s" * 32
NONCE_ENDPOINT = "https://agent.test/openid4vci/nonce"
CREDENTIAL_ENDPOINT = "https://agent.test/openid4vci/credential"


def agent_settings(url: str, timeout_seconds: float = 2.0) -> SsiAgentSettings:
    """SSI_AGENT_* for a deployment that hands its offers to the agent at `url`."""
    return SsiAgentSettings(
        url=url,
        nonce_endpoint=NONCE_ENDPOINT,
        credential_endpoint=CREDENTIAL_ENDPOINT,
        webhook_secret=WEBHOOK_SECRET,
        token=AGENT_TOKEN,
        timeout_seconds=timeout_seconds,
    )


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # the JSON body, or None


@dataclass
class Failure:
    status: int = 500
    body: str = "internal error"
    content_type: str = "text/plain"
    delay_seconds: float = 0.0  # answer (normally) only after this long


@dataclass
class AgentStub:
    token: str | None = None  # the bearer token the admin API requires, if any
    url: str = ""
    by_reference: bool = False  # offer links by reference rather than by value
    calls: list[Call] = field(default_factory=list[Call])
    templates: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    offers: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    failures: dict[tuple[str, str], Failure] = field(default_factory=dict[tuple[str, str], Failure])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path: str, failure: Failure) -> None:
        self.failures[(method, path)] = failure

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [call for call in self.calls if (call.method, call.path) == (method, path)]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_json(silent=True) if request.data else None
        with self._lock:
            self.calls.append(Call(request.method, request.path, {k.lower(): v for k, v in request.headers}, body))
        failure = self.failures.get((request.method, request.path))
        if failure is not None:
            time.sleep(failure.delay_seconds)
            if failure.delay_seconds == 0 or failure.status >= 300:
                return Response(failure.body, failure.status, content_type=failure.content_type)(
                    environ, start_response
                )
        return self._answer(request, body)(environ, start_response)

    def _answer(self, request: Request, body: Any) -> Response:
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response("unauthorized", 401)
        if request.method == "GET" and request.path.startswith("/v0/offers/"):
            offer = self.offers.get(request.path.removeprefix("/v0/offers/"))
            return _json(offer) if offer is not None else Response("Offer not found", 404)
        routes = {
            ("GET", "/v0/list-all-templates"): lambda: _json(list(self.templates.values())),
            ("POST", "/v0/create-new-template"): lambda: self._create_template(body),
            ("POST", "/v0/credentials"): lambda: self._add_credential(body),
            ("POST", "/v0/offers"): lambda: self._create_offer(body),
        }
        route = routes.get((request.method, request.path))
        return route() if route is not None else Response("no such endpoint", 404)

    def _create_template(self, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return Response("invalid payload", 400)
        with self._lock:
            if body["id"] in self.templates:
                return Response("template exists", 409)
            template = {**body, "status": "Active"}
            self.templates[body["id"]] = template
        return _json(template, 201)

    def _add_credential(self, body: Any) -> Response:
        if not isinstance(body, dict) or set(body) != {"offerId", "credential", "templateId"}:
            return Response("invalid payload", 400)
        if body["templateId"] not in self.templates:
            return Response(f"No template found with id: `{body['templateId']}`", 404)
        with self._lock:
            credential_id = f"credential-{len(self.credentials) + 1}"
            self.credentials[credential_id] = body
        headers = {"Location": f"/v0/credentials/{credential_id}"}
        return _json(body["credential"], 201, headers)

    def _create_offer(self, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("offerId"), str):
            return Response("invalid payload", 400)
        offer_id = body["offerId"]
        credential_ids = [cid for cid, c in self.credentials.items() if c["offerId"] == offer_id]
        if not credential_ids:
            return Response("the offer has no credentials", 404)
        document = {
            "credential_issuer": self.url,
            "credential_configuration_ids": body["templateIds"],
            "grants": {PRE_AUTH: {"pre-authorized_code": f"code-{offer_id}"}},
        }
        if self.by_reference:
            link = "openid-credential-offer://?credential_offer_uri=" + quote(f"{self.url}/offers/{offer_id}", safe="")
        else:
            link = "openid-credential-offer://?credential_offer=" + quote(json.dumps(document), safe="")
        self.offers[offer_id] = {"id": offer_id, "credential_ids": credential_ids, "status": "Pending"}
        return Response(link, 200, content_type="text/plain; charset=utf-8")


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(value), status, headers=headers, content_type="application/json")


@contextmanager
def running_agent(token: str | None = None) -> Iterator[AgentStub]:
    stub = AgentStub(token=token)
    with serve_in_thread(stub) as server:
        stub.url = server.url
        yield stub
