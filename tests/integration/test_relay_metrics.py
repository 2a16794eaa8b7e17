"""`ec-issuer relay --metrics-address`: a relay process is a Prometheus scrape target of its own, counting
what it published to the real NATS server and how long each event waited."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import suppress
from pathlib import Path

import nats
import nats.errors

from ec_issuer.events.model import new_event
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import upgrade
from ec_issuer.storage.outbox import SqlOutbox
from ec_issuer.storage.session import LazyConnection
from tests.support import SettableClock

EVENTS = 40
RELAY_COMMAND = (sys.executable, "-c", "from ec_issuer.cli.main import cli; cli()", "relay")


class Ids:
    def new_id(self) -> str:
        return str(uuid.uuid4())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def record_events(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    connection = LazyConnection(engine)
    outbox = SqlOutbox(connection)
    for index in range(EVENTS):
        outbox.add(
            new_event(
                Ids(),
                SettableClock(),
                type_="org.ec-issuer.credential.issued",
                source="did:example:metrics",
                subject=f"urn:uuid:metrics-{index}",
                data={"n": index},
            )
        )
    connection.commit()
    connection.retire()
    engine.dispose()


def sample(text: str, line_start: str) -> float | None:
    match = re.search(rf"^{re.escape(line_start)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else None


def scrape_until(url: str, done: str, seconds: float = 20.0) -> str:
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        with suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - an http URL of the test's own
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = response.read().decode()
            if re.search(done, text, flags=re.MULTILINE):
                return text
        time.sleep(0.1)
    raise AssertionError(f"the relay's metrics never showed {done!r}; last scrape:\n{text}")


def test_relay_serves_its_counters_lag_histogram_and_the_outbox_depth(nats_url: str, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'relay.db'}"
    record_events(database)
    tag = uuid.uuid4().hex[:8]
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database,
        "EC_ISSUER_ENV": "production",
        "KEYSTORE_SECRET": "relay-metrics-test-secret-not-used-for-keys",
        "EC_ISSUER_DATA_DIR": str(tmp_path),
        "EVENT_BROKER": "nats",
        "NATS_URL": nats_url,
        "NATS_STREAM": f"METRICS_{tag}",
        "NATS_SUBJECT_PREFIX": f"metrics-{tag}",
        "LOG_LEVEL": "WARNING",
    }
    relay = subprocess.Popen(
        [*RELAY_COMMAND, "--metrics-address", f"127.0.0.1:{port}"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        relay_id = r'relay="relay-[0-9a-f]{12}"'
        everything_published = rf'^ec_issuer_relay_published_total\{{relay="[^"]+"\}} {EVENTS}$'
        text = scrape_until(f"http://127.0.0.1:{port}/metrics", everything_published)
        label = re.search(relay_id, text)
        assert label is not None, text
        labels = "{" + label.group(0) + "}"
        assert "# TYPE ec_issuer_relay_published_total counter" in text
        assert sample(text, f"ec_issuer_relay_published_total{labels}") == EVENTS
        assert sample(text, f"ec_issuer_relay_dead_total{labels}") == 0
        assert sample(text, f"ec_issuer_relay_broker_failures_total{labels}") == 0
        assert sample(text, f"ec_issuer_relay_delivery_lag_seconds_count{labels}") == EVENTS
        infinity = "{" + label.group(0) + ',le="+Inf"}'
        assert sample(text, f"ec_issuer_relay_delivery_lag_seconds_bucket{infinity}") == EVENTS
        assert (sample(text, f"ec_issuer_relay_delivery_lag_seconds_sum{labels}") or 0) > 0
        assert sample(text, "ec_issuer_outbox_pending") == 0
        assert sample(text, "ec_issuer_outbox_dead") == 0
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=2)
            raise AssertionError("only /metrics is served")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    finally:
        relay.send_signal(signal.SIGTERM)
        out, err = relay.communicate(timeout=20)
        asyncio.run(delete_stream(nats_url, f"METRICS_{tag}"))
    assert relay.returncode == 0, err.decode()
    assert f'"published":{EVENTS}' in out.decode().replace(" ", "")


async def delete_stream(url: str, stream: str) -> None:
    client = await nats.connect(url)
    with suppress(nats.errors.Error):
        await client.jetstream().delete_stream(stream)
    await client.close()
