"""The UniCore ssi-agent's admin API over HTTP.

Calls: `GET /v0/list-all-templates`, `POST /v0/create-new-template`, `POST /v0/credentials
{offerId, credential, templateId}` (the agent's credential id comes back in `Location`) and `POST /v0/offers
{offerId, templateIds}`, whose answer is the offer link as text/plain. Failures become the domain's errors:
no connection → Unavailable (503), no answer in time → UpstreamTimeout (504), an error status, a broken
connection or an answer that is not what the call returns → UpstreamFailed (502). Neither the token nor the
agent's error bodies (which may echo the credential data) reach those messages.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote, urlsplit

import httpx

from ec_issuer.config import SsiAgentSettings
from ec_issuer.core.encoding import loads
from ec_issuer.core.errors import Unavailable, UpstreamFailed, UpstreamTimeout
from ec_issuer.core.validation import reject_control_characters
from ec_issuer.oid4vci.agent_model import AgentTemplate, TemplateSpec, read_offer_link

MAX_ID_LENGTH = 256


class UniCoreAgent:
    def __init__(self, settings: SsiAgentSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
        self._timeout = settings.timeout_seconds
        self._client = httpx.Client(
            base_url=settings.url,
            headers=headers,
            timeout=settings.timeout_seconds,
            follow_redirects=False,
            transport=transport,
        )

    def templates(self) -> list[AgentTemplate]:
        what = "GET /v0/list-all-templates"
        listing = _json(self._call("GET", "/v0/list-all-templates", None, what), what)
        if isinstance(listing, dict):  # keyed by template id
            entries = [(key, value) for key, value in cast(dict[str, Any], listing).items()]
        elif isinstance(listing, list):
            entries = [(None, value) for value in cast(list[Any], listing)]
        else:
            raise UpstreamFailed(f"the external agent's answer to {what} is not a list of templates")
        found: list[AgentTemplate] = []
        for key, value in entries:
            entry = cast(dict[str, Any], value) if isinstance(value, dict) else {}
            template_id: object = entry.get("id", key)
            title: object = entry.get("title")
            if isinstance(template_id, str):
                found.append(AgentTemplate(template_id, title if isinstance(title, str) else None))
        return found

    def create_template(self, spec: TemplateSpec) -> str:
        what = "POST /v0/create-new-template"
        body = {
            "id": spec.id,
            "title": spec.title,
            "credentialFormat": spec.credential_format,
            "type": list(spec.types),
        }
        response = self._call("POST", "/v0/create-new-template", body, what, also_fine=(409,))
        if response.status_code == 409:  # another worker made it between our listing and now
            return spec.id
        made = _json(response, what) if response.content else None
        made_id: object = cast(dict[str, Any], made).get("id") if isinstance(made, dict) else None
        return made_id if isinstance(made_id, str) and made_id else spec.id

    def add_credential(self, offer_id: str, credential: dict[str, Any], template_id: str) -> str | None:
        body = {"offerId": offer_id, "credential": credential, "templateId": template_id}
        response = self._call("POST", "/v0/credentials", body, "POST /v0/credentials")
        return _last_segment(response.headers.get("location"))

    def create_offer(self, offer_id: str, template_ids: list[str]) -> str:
        what = "POST /v0/offers"
        response = self._call("POST", "/v0/offers", {"offerId": offer_id, "templateIds": template_ids}, what)
        link = response.text.strip()
        try:
            read_offer_link(link)
        except ValueError as exc:
            raise UpstreamFailed(f"the external agent's answer to {what} is not an offer link: {exc}") from None
        return link

    def _call(self, method: str, path: str, body: object, what: str, also_fine: tuple[int, ...] = ()) -> httpx.Response:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"the external agent did not answer {what} within {self._timeout:g} s") from None
        except httpx.ConnectError as exc:
            raise Unavailable(f"the external agent cannot be reached for {what} ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"the external agent broke off {what} ({type(exc).__name__})") from None
        if not 200 <= response.status_code < 300 and response.status_code not in also_fine:
            raise UpstreamFailed(f"the external agent answered {what} with HTTP {response.status_code}")
        return response


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        raise UpstreamFailed(f"the external agent's answer to {what} is not JSON") from None


def _last_segment(location: str | None) -> str | None:
    """The agent's credential id: the last path segment of `Location: /v0/credentials/<id>`."""
    if not location:
        return None
    segment = unquote(urlsplit(location).path.rstrip("/").rpartition("/")[2])
    try:
        reject_control_characters(segment)
    except ValueError:
        return None
    return segment if 0 < len(segment) <= MAX_ID_LENGTH else None
