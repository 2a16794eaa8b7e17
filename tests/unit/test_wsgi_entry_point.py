"""The production WSGI factory: builds the app from the environment and hides start-up objects from the GC."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from apiflask import APIFlask

from ec_issuer.api import wsgi


def test_the_factory_builds_the_app_and_freezes_what_start_up_allocated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EC_ISSUER_ENV", "development")
    monkeypatch.setenv("EC_ISSUER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'wsgi.db'}")
    monkeypatch.setenv("EXPIRY_SWEEP_SECONDS", "0")
    gc.unfreeze()
    try:
        app = wsgi.create()
        assert isinstance(app, APIFlask)
        assert gc.get_freeze_count() > 10_000  # the app, its services and the libraries they loaded
    finally:
        gc.unfreeze()
