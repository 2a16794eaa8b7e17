"""A Prometheus scrape target for a process that serves no HTTP otherwise (`ec-issuer relay`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import click

from ec_issuer.core.errors import Unavailable
from ec_issuer.events.metrics import CONTENT_TYPE


def parse_address(value: str) -> tuple[str, int]:
    """``host:port`` (an IPv6 host in brackets) into its parts."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"'{value}' is not HOST:PORT")
    return host.strip("[]"), int(port)


class MetricsListener:
    """Answers ``GET /metrics`` with what ``render`` returns, on a daemon thread; nothing else is served.
    The metrics carry counts only (no event contents, no personal data), as exporters' usually are."""

    def __init__(self, address: tuple[str, int], render: Callable[[], str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                try:
                    body = render().encode()
                except Unavailable:  # the outbox cannot be counted while the database is away
                    self.send_error(503, "the database is unavailable; the relay backs off and carries on")
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # a scrape every few seconds is not worth a log line

        self._server = ThreadingHTTPServer(address, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
