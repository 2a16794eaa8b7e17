"""Fetching other issuers' status lists over HTTPS, bounded in time and size, never into private networks.

A verifier that fetches whatever URL a credential names can be turned against the network it runs in
(server-side request forgery). So only https URLs on the default port are fetched, the host must resolve
to public addresses only, redirects are not followed, and the answer is cut off at a size limit.
The address check and the connection resolve the name separately; a resolver that answers differently
the second time (DNS rebinding) is outside what this guards.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from ec_issuer.status.ports import FetchedList, StatusListUnavailable

MAX_LIST_BYTES = 4 * 1024 * 1024
TIMEOUT_SECONDS = 5.0


class HttpStatusLists:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_bytes: int = MAX_LIST_BYTES,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = timeout_seconds
        self._max_bytes = max_bytes

    def fetch(self, url: str, accept: str) -> FetchedList:
        self._check_destination(url)
        try:
            with (
                httpx.Client(timeout=self._timeout, follow_redirects=False) as client,
                client.stream("GET", url, headers={"Accept": accept}) as response,
            ):
                if response.status_code != 200:
                    raise StatusListUnavailable(f"{url} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise StatusListUnavailable(f"{url} is larger than {self._max_bytes} bytes")
                media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        except httpx.HTTPError as exc:
            raise StatusListUnavailable(f"{url}: {type(exc).__name__}") from None
        try:
            return FetchedList(body.decode("utf-8"), media_type)
        except UnicodeDecodeError:
            raise StatusListUnavailable(f"{url} is not UTF-8 text") from None

    def _check_destination(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
            raise StatusListUnavailable(f"only https status list URLs are fetched, not {url!r}")
        if parts.port not in (None, 443) and not self._allow_private:
            raise StatusListUnavailable("status lists are fetched from the default https port only")
        if self._allow_private:
            return
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(parts.hostname, 443, type=socket.SOCK_STREAM)}
        except OSError:
            raise StatusListUnavailable(f"{parts.hostname} does not resolve") from None
        for address in addresses:
            if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
                raise StatusListUnavailable(f"{parts.hostname} resolves to a non-public address")
