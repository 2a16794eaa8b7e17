"""The external OAuth 2.0 authorization server over HTTP: its key set (JWKS) and its introspection endpoint.

Both URLs come from the operator's configuration (OID4VCI_AS_JWKS_URL, OID4VCI_AS_INTROSPECTION_ENDPOINT), never
from a token, so they are fetched as configured; redirects are not followed, answers are cut off at a size limit
and every call has a timeout.

- `HttpJwks` fetches the key set when first needed and keeps it. It fetches it again when it is older than
  `max_age`, or when a token names a kid it does not hold (the server rotated its keys), but then at most once
  per `min_refresh`: a stream of tokens with made-up kids cannot make us hammer the server. When a fetch fails,
  the keys held so far stay in use; without any, the answer is AuthorizationServerUnavailable (503).
- `StaticJwks` is a key set read from a file (OID4VCI_AS_JWKS_FILE), for servers whose keys are distributed
  out of band.
- `HttpIntrospection` asks the introspection endpoint (RFC 7662) with HTTP Basic client authentication and
  keeps each answer for a short while (`cache_seconds`, never past the token's `exp`), keyed by the SHA-256 of
  the token: the token itself is not kept.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_plus

import httpx

from ec_issuer.core.encoding import loads
from ec_issuer.core.ports import Clock
from ec_issuer.oid4vci.external_as import AuthorizationServerUnavailable

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
MAX_INTROSPECTION_BYTES = 64 * 1024
TIMEOUT_SECONDS = 5.0
JWKS_MAX_AGE = timedelta(minutes=10)
JWKS_MIN_REFRESH = timedelta(seconds=60)
FAILURE_BACKOFF = timedelta(seconds=5)  # after a failed fetch, 503 at once for this long instead of waiting again
INTROSPECTION_CACHE_SECONDS = 30.0
MAX_CACHED_ANSWERS = 10_000


class JwksFileError(ValueError):
    """The configured JWKS file is not a key set."""


def key_set(document: object) -> list[dict[str, Any]]:
    """The keys of a JWK Set (RFC 7517 §5); ValueError when it is not one."""
    if not isinstance(document, dict):
        raise ValueError("a JWK Set is a JSON object")
    keys: object = cast(dict[str, Any], document).get("keys")
    if not isinstance(keys, list):
        raise ValueError("a JWK Set has a keys array")
    return [cast(dict[str, Any], key) for key in cast(list[object], keys) if isinstance(key, dict)]


def _matching(keys: Sequence[dict[str, Any]], kid: str | None) -> list[dict[str, Any]]:
    return [key for key in keys if kid is None or key.get("kid") == kid]


class StaticJwks:
    def __init__(self, keys: Sequence[dict[str, Any]]) -> None:
        self._keys = list(keys)

    @classmethod
    def from_file(cls, path: Path) -> StaticJwks:
        try:
            return cls(key_set(loads(path.read_bytes())))
        except (OSError, ValueError) as exc:
            raise JwksFileError(f"{path} is not a readable JWK Set: {exc}") from None

    def keys(self, kid: str | None) -> Sequence[dict[str, Any]]:
        return _matching(self._keys, kid)


class HttpJwks:
    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_age: timedelta = JWKS_MAX_AGE,
        min_refresh: timedelta = JWKS_MIN_REFRESH,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._clock = clock
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._client = _ClientFactory(timeout_seconds, None, transport)
        self._lock = threading.Lock()
        self._keys: list[dict[str, Any]] | None = None
        self._fetched_at: datetime | None = None  # of the keys held
        self._tried_at: datetime | None = None  # the last attempt, whatever came of it
        self._failed_at: datetime | None = None  # the last failed attempt

    def keys(self, kid: str | None) -> Sequence[dict[str, Any]]:
        with self._lock:
            now = self._clock.now()
            if self._keys is None:
                self._refresh(now)  # nothing to fall back on: unavailable if this fails
            elif self._fetched_at is not None and now - self._fetched_at >= self._max_age:
                self._refresh_quietly(now)
            assert self._keys is not None  # noqa: S101 - set by a successful refresh
            found = _matching(self._keys, kid)
            if not found and kid is not None and (self._tried_at is None or now - self._tried_at >= self._min_refresh):
                self._refresh(now)  # a key the server rotated in; we cannot judge the token without it
                found = _matching(self._keys, kid)
            return found

    def _refresh_quietly(self, now: datetime) -> None:
        try:
            self._refresh(now)
        except AuthorizationServerUnavailable as exc:
            log.warning("keeping the authorization server's previous keys: %s", exc.description)

    def _refresh(self, now: datetime) -> None:
        if self._failed_at is not None and now - self._failed_at < FAILURE_BACKOFF:
            raise AuthorizationServerUnavailable("the authorization server's keys cannot be fetched; try again later")
        self._tried_at = now
        try:
            self._keys = key_set(loads(_read(self._client, "GET", self._url, MAX_JWKS_BYTES)))
        except (AuthorizationServerUnavailable, ValueError) as exc:
            self._failed_at = now
            if isinstance(exc, ValueError):  # the other failures were logged where they happened
                log.warning("the authorization server's %s is not a JWK Set: %s", self._url, exc)
            raise AuthorizationServerUnavailable(
                "the authorization server's keys cannot be fetched; try again later"
            ) from None
        self._fetched_at = now
        self._failed_at = None


class HttpIntrospection:
    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        cache_seconds: float = INTROSPECTION_CACHE_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._clock = clock
        self._cache_for = timedelta(seconds=cache_seconds)
        # RFC 6749 §2.3.1: client id and secret are form-encoded before they go into the Basic credentials.
        auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))
        self._client = _ClientFactory(timeout_seconds, auth, transport)
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, tuple[datetime, dict[str, Any]]] = OrderedDict()

    def introspect(self, token: str) -> dict[str, Any]:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock.now()
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None and now < cached[0]:
                return cached[1]
        answer = self._ask(token)
        until = now + self._cache_for
        expires: object = answer.get("exp")
        if answer.get("active") is True and isinstance(expires, int | float) and not isinstance(expires, bool):
            try:
                until = min(until, datetime.fromtimestamp(float(expires), UTC))
            except (OverflowError, OSError, ValueError):
                until = now  # not kept: the verifier refuses the answer
        if until > now:
            with self._lock:
                self._answers[key] = (until, answer)
                self._answers.move_to_end(key)
                while len(self._answers) > MAX_CACHED_ANSWERS:
                    self._answers.popitem(last=False)
        return answer

    def _ask(self, token: str) -> dict[str, Any]:
        form = {"token": token, "token_type_hint": "access_token"}
        try:
            body = _read(self._client, "POST", self._endpoint, MAX_INTROSPECTION_BYTES, data=form)
        except _Refused:
            # Our request differs from any other only in the token: a 400 is about the token (oidc-provider,
            # for one, will not introspect a JWT: unsupported_token_type). Not active, as far as we can tell.
            return {"active": False}
        try:
            answer = loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            log.error("the introspection endpoint %s answered something other than a JSON object", self._endpoint)
            raise AuthorizationServerUnavailable("the authorization server did not answer about the access token")
        return cast(dict[str, Any], answer)


class _ClientFactory:
    """A client per call: key sets are fetched rarely and introspection answers are cached, so a kept
    connection would save little and stay open for the life of the process."""

    def __init__(self, timeout: float, auth: httpx.Auth | None, transport: httpx.BaseTransport | None) -> None:
        self._timeout = timeout
        self._auth = auth
        self._transport = transport

    def __call__(self) -> httpx.Client:
        return httpx.Client(timeout=self._timeout, follow_redirects=False, auth=self._auth, transport=self._transport)


def _read(client: _ClientFactory, method: str, url: str, max_bytes: int, **request: Any) -> bytes:
    """The body of a 200 answer, at most max_bytes of it; AuthorizationServerUnavailable for anything else."""
    try:
        with (
            client() as session,
            session.stream(method, url, headers={"Accept": _ACCEPT[method]}, **request) as response,
        ):
            if response.status_code == 400 and method == "POST":
                raise _Refused
            if response.status_code != 200:
                # For introspection, 401/403 means our client credentials are refused: a configuration fault
                # the wallet cannot mend, logged as an error.
                level = logging.ERROR if response.status_code in (401, 403) else logging.WARNING
                log.log(level, "the authorization server's %s answered HTTP %s", url, response.status_code)
                raise AuthorizationServerUnavailable(f"the authorization server answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise AuthorizationServerUnavailable(f"the authorization server's answer is over {max_bytes} bytes")
    except httpx.HTTPError as exc:
        log.warning("the authorization server's %s cannot be reached: %s", url, type(exc).__name__)
        raise AuthorizationServerUnavailable(
            f"the authorization server cannot be reached ({type(exc).__name__}); try again later"
        ) from None
    return bytes(body)


class _Refused(Exception):
    """The introspection endpoint answered 400."""


_ACCEPT = {"GET": "application/jwk-set+json, application/json", "POST": "application/json"}
