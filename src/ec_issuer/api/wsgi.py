"""WSGI entry point for production servers: `granian --interface wsgi --factory ec_issuer.api.wsgi:create`."""

from __future__ import annotations

import gc
import logging

from apiflask import APIFlask

from ec_issuer.api.app import create_app
from ec_issuer.bootstrap import build, event_publisher
from ec_issuer.config import load_settings
from ec_issuer.events.relay import BackgroundRelay, OutboxRelay
from ec_issuer.status.schedule import PeriodicSweep


def create() -> APIFlask:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    container = build(settings)
    if settings.expiry_sweep_seconds > 0:
        PeriodicSweep(container.expiry.run, settings.expiry_sweep_seconds).start()
        PeriodicSweep(container.oid4vci.purge, settings.expiry_sweep_seconds, name="OID4VCI purge").start()
    if settings.relay_in_service:
        publisher = event_publisher(settings)
        relay = OutboxRelay(container.outbox, publisher, container.clock)
        container.relays.append(relay)
        BackgroundRelay(relay, publisher).start()
    app = create_app(container)
    # What start-up built (routes, SQLAlchemy metadata, JSON-LD contexts, SHACL shapes, schemas) lives as long as
    # the worker. Out of the collector's reach it is no longer re-scanned by every full collection: those took
    # 90-100 ms each, about one per 3,000 issuing requests, in bench/README.md's measurement.
    gc.freeze()
    return app
