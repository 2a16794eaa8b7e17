"""SoftHSM2 tokens for the tests: `pytest_plugins = ["tests.backends.softhsm"]` brings the fixtures.

SoftHSM2 reads SOFTHSM2_CONF when the module initialises, and python-pkcs11 keeps a loaded module for
the whole process, so one configuration (one token directory) serves the whole test session; each test
gets a token of its own in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest

from ec_issuer.config import Pkcs11Settings
from tests.services import unavailable

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",  # Debian, Ubuntu
    "/usr/lib64/pkcs11/libsofthsm2.so",  # Fedora, RHEL
    "/usr/local/lib/softhsm/libsofthsm2.so",  # built from source
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",  # macOS
)
SO_PIN = "5678"
USER_PIN = "1234-user-pin"


@dataclass(frozen=True)
class SoftHsm:
    module: str
    util: str
    directory: Path

    def new_token(self) -> Pkcs11Settings:
        label = f"test-{uuid.uuid4().hex[:12]}"
        subprocess.run(
            [self.util, "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN],
            check=True,
            capture_output=True,
        )
        # SoftHSM2 lists the tokens it found when it was initialised: make the new one visible. This
        # ends the sessions of earlier tests, whose custody objects are not used again.
        pkcs11.lib(self.module).reinitialize()
        return Pkcs11Settings(module=self.module, token_label=label, pin=USER_PIN)

    def delete_token(self, label: str) -> None:
        subprocess.run([self.util, "--delete-token", "--token", label], check=True, capture_output=True)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    util = shutil.which("softhsm2-util")
    if util is None:
        unavailable("SoftHSM2", "no softhsm2-util on PATH (apt-get install softhsm2)")
    module = os.environ.get("SOFTHSM2_MODULE") or next((p for p in MODULE_CANDIDATES if Path(p).exists()), None)
    if module is None or not Path(module).exists():
        unavailable("SoftHSM2", f"libsofthsm2.so not found (set SOFTHSM2_MODULE; looked in {MODULE_CANDIDATES})")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    with pytest.MonkeyPatch.context() as env:
        # Set for the whole session, before the module is first loaded: the fixture below re-initialises
        # the module for each token, and softhsm2-util runs as a child of this process.
        env.setenv("SOFTHSM2_CONF", str(conf))
        yield SoftHsm(module=module, util=util, directory=directory)


@pytest.fixture
def pkcs11_settings(softhsm: SoftHsm) -> Iterator[Pkcs11Settings]:
    """Settings for a fresh token, deleted afterwards."""
    settings = softhsm.new_token()
    yield settings
    softhsm.delete_token(settings.token_label)
