"""The standalone relay's metrics listener answers 503, not a dropped connection, while the database is away."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from ec_issuer.cli.metrics_listener import MetricsListener
from ec_issuer.core.errors import Unavailable


def _database_away() -> str:
    raise Unavailable("the database is unavailable or busy; retry shortly")


@pytest.mark.parametrize(("render", "status"), [(lambda: "ec_issuer_outbox_pending 0\n", 200), (_database_away, 503)])
def test_a_scrape_answers_what_the_outbox_can_say(render: object, status: int) -> None:
    listener = MetricsListener(("127.0.0.1", 0), render)  # pyright: ignore[reportArgumentType]
    listener.start()
    try:
        url = f"http://127.0.0.1:{listener.port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                assert (answer.status, answer.read()) == (200, b"ec_issuer_outbox_pending 0\n")
                code = answer.status
        except urllib.error.HTTPError as refused:
            code = refused.code
        assert code == status
    finally:
        listener.stop()
