"""Running the expiry sweep on a schedule inside the service process."""

from __future__ import annotations

import logging
import threading

from ec_issuer.core.errors import Unavailable
from ec_issuer.status.service import ExpirySweep

log = logging.getLogger(__name__)


class PeriodicSweep:
    """A daemon thread that runs the sweep every ``interval`` seconds until stopped. Every worker process
    may run one: concurrent sweeps share the work (see ExpirySweep), so none needs electing."""

    def __init__(self, sweep: ExpirySweep, interval: float) -> None:
        if interval <= 0:
            raise ValueError("the sweep interval must be positive")
        self._sweep = sweep
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="expiry-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                expired = self._sweep.run()
            except Unavailable:
                log.warning("expiry sweep skipped: the database is unavailable; retrying in %.0f s", self._interval)
                continue
            except Exception:  # a bug must not end the schedule: log it and keep sweeping
                log.exception("expiry sweep failed")
                continue
            if expired:
                log.info("expiry sweep: %d credentials expired", expired)
