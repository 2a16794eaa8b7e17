"""The message brokers tests publish to: NATS with JetStream and RabbitMQ, as fixtures that skip locally
and fail in CI when a server cannot be reached (TEST_NATS_URL, TEST_RABBITMQ_URL)."""

from __future__ import annotations

import asyncio
import os
import socket

import aio_pika
import nats
import nats.errors
import pytest
from yarl import URL

from tests.services import unavailable

NATS_URL = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def reachable(url: str, default_port: int) -> str | None:
    """Why the server of the URL cannot be reached, or None."""
    parsed = URL(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), timeout=2):
            return None
    except OSError as exc:
        return f"cannot connect to {parsed.with_user(None)}: {exc}"


@pytest.fixture(scope="module")
def nats_url() -> str:
    problem = reachable(NATS_URL, 4222)
    if problem is None:
        problem = asyncio.run(_jetstream_problem(NATS_URL))
    if problem is not None:
        unavailable("NATS JetStream", problem)
    return NATS_URL


async def _jetstream_problem(url: str) -> str | None:
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
    try:
        await client.jetstream(timeout=2).account_info()
    except nats.errors.Error as exc:
        return f"{url} answers, but not JetStream: {exc!r}"
    finally:
        await client.close()
    return None


@pytest.fixture(scope="module")
def rabbitmq_url() -> str:
    problem = reachable(RABBITMQ_URL, 5672)
    if problem is None:
        problem = asyncio.run(_rabbitmq_problem(RABBITMQ_URL))
    if problem is not None:
        unavailable("RabbitMQ", problem)
    return RABBITMQ_URL


async def _rabbitmq_problem(url: str) -> str | None:
    try:
        connection = await aio_pika.connect(url, timeout=5)
    except (aio_pika.exceptions.AMQPError, OSError) as exc:
        return f"{URL(url).with_user(None)} refused the connection: {exc!r}"
    await connection.close()
    return None
