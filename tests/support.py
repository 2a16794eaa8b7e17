"""Builders and helpers shared by the test tiers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from ec_issuer.config import PRODUCTION, Settings

TEST_SECRET = "test-keystore-secret-0123456789abcdef"


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mode": PRODUCTION,
        "server_host": "127.0.0.1",
        "server_port": 8000,
        "server_workers": 1,
        "server_threads": 1,
        "database_url": database_url,
        "issuer_base_url": "https://issuer.test",
        "data_dir": data_dir,
        "keystore_path": data_dir / "keys",
        "keystore_secret": TEST_SECRET,
        "admin_bootstrap_token": None,
        "auto_upgrade": False,
        "max_request_bytes": 256 * 1024,
        "authz_policy_url": None,
        "authz_policy_token": None,
        "log_level": "INFO",
    }
    values.update(overrides)
    return Settings(**values)


class FakeMonotonic:
    """A monotonic clock (seconds) that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SettableClock:
    """A clock tests can move. Starts at the real current second."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def award_body(issuer: str = "acme", **overrides: Any) -> dict[str, Any]:
    """A complete, valid POST /api/v1/credentials body."""
    body: dict[str, Any] = {
        "issuer": issuer,
        "recipient": {"email": "learner@example.org"},
        "achievement": {
            "id": "https://acme.example/achievements/python-101",
            "name": "Python 101",
            "description": "Completed the introductory Python course.",
            "criteria": {"narrative": "Pass all six assignments and the final project."},
            "achievementType": "Certificate",
        },
    }
    body.update(overrides)
    return body


def caller_document(**changes: Any) -> dict[str, Any]:
    """A complete unsigned OB 3.0 credential as an integrator builds it, minus what the service fills in
    (`id`, `validFrom`, `issuer`); `changes` replace top-level members."""
    document: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Data Literacy",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "id": "did:example:learner-7",
            "achievement": {
                "id": "https://acme.example/achievements/data-literacy",
                "type": ["Achievement"],
                "name": "Data Literacy",
                "description": "Reads charts critically.",
                "criteria": {"narrative": "Complete the workshop."},
            },
        },
    }
    document.update(changes)
    return document


@dataclass
class LiveServer:
    url: str


@contextmanager
def serve_in_thread(app: Any) -> Iterator[LiveServer]:
    """Serve a WSGI app over real HTTP on an ephemeral loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)


def free_port() -> int:
    """A loopback port nothing listens on (until something binds it): for servers to start on, or as a
    service that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_postgres_url() -> str:
    return f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/gone"
