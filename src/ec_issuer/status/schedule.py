"""Running periodic housekeeping (the expiry sweep, purging expired OID4VCI rows) inside the service process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ec_issuer.core.errors import Unavailable

log = logging.getLogger(__name__)


class PeriodicSweep:
    """A daemon thread that runs ``sweep`` (returning how many rows it changed) every ``interval`` seconds until
    stopped. Every worker process may run one: concurrent sweeps share the work (see ExpirySweep; a purge
    deletes what is already gone at most once), so none needs electing."""

    def __init__(self, sweep: Callable[[], int], interval: float, name: str = "expiry sweep") -> None:
        if interval <= 0:
            raise ValueError("the sweep interval must be positive")
        self._sweep = sweep
        self._interval = interval
        self._name = name
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name.replace(" ", "-"), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                changed = self._sweep()
            except Unavailable:
                log.warning("%s skipped: the database is unavailable; retrying in %.0f s", self._name, self._interval)
                continue
            except Exception:  # a bug must not end the schedule: log it and keep sweeping
                log.exception("%s failed", self._name)
                continue
            if changed:
                log.info("%s: %d rows", self._name, changed)
