"""Benchmark complete OID4VCI 1.0 pre-authorized-code flows over real HTTP against a production server.

One flow is what the operator and a learner's wallet do for one credential:

1. operator: ``POST /api/v1/offers`` (admin bearer token) with one award (201);
2. wallet: ``GET`` the ``offerUri`` path, the offer by reference (200);
3. wallet: ``POST /issuers/bench/oid4vci/token`` with the pre-authorized code (form-encoded, 200);
4. wallet: ``POST /issuers/bench/oid4vci/nonce`` (200);
5. wallet: ``POST /issuers/bench/oid4vci/credential`` with one ``openid4vci-proof+jwt`` (ES256, header ``jwk``,
   ``aud`` = the offer's ``credential_issuer``, a fresh ``iat``, the ``c_nonce``) and checks that a ``vc+jwt``
   credential came back (200).

    uv run python bench/oid4vci_flow.py [--duration 15] [--warmup 3] [--concurrency 16] [--clients 2]
                                        [--keep-wallet-connections] [--workers 2] [--threads N]
                                        [--databases sqlite,postgres] [--postgres-url URL] [--json FILE]
                                        [--profile] [--profile-seconds 10] [--profile-mode auto|cpu|gil|wall]
                                        [--top 25] [--save-profile DIR]

For each database the server is started exactly as in production (``ec-issuer serve`` under granian, through
issue_jose.running_server) with issue_jose's fixtures (issuer ``bench``, an ES256 key); offers are made with the
bootstrap admin token. One sanity flow must succeed first. Then ``--clients`` load-generator processes, each an
asyncio event loop speaking raw HTTP/1.1, run ``--concurrency`` flows at a time in total, back to back, for a
warm-up and then a timed window whose bounds all processes share (CLOCK_MONOTONIC). Each flow in flight keeps one
keep-alive operator connection; the wallet opens a new connection per flow (each learner's wallet is a client of
its own), or keeps one with ``--keep-wallet-connections``. Each flow signs its proof with one of 64 pre-made P-256
keys per process.

It prints flows/s, p50/p99 flow latency, the p50/p99 of each step, failures, the server's CPU per flow (utime +
stime of every thread of its process tree, the kernel's share and context switches), the clients' CPU per flow
(and how much of it is proof signing), the CPU of the machine's PostgreSQL processes, the rest of the machine, the
throughput that this much CPU per flow allows on the machine's cores, and for PostgreSQL the transactions per flow
(pg_stat_database). Client, server and PostgreSQL share the machine's cores: the header says how many there are.

``--profile`` adds, after the timed window, a profiled window of the same load under ``py-spy record``
(``--subprocesses``, ``--nonblocking``, Python frames) and prints where the server's Python threads spend their
samples: per endpoint (in ms per flow), per package and per function. Its throughput is not a figure: the sampler
takes CPU from the same cores.

Every request goes to 127.0.0.1; every run is bounded in time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from issue_jose import (
    CLK_TCK,
    DEFAULT_POSTGRES_URL,
    HOST,
    ISSUER_SLUG,
    RESULT_MARK,
    RunningServer,
    _process_tree,  # the server's process tree (granian runs its workers as child processes)
    _read_response,  # the load generators' HTTP/1.1 response reader
    _versions,
    machine_busy_seconds,
    register_fixtures,
    source_revision,
    started_server,
)

TARGET_FLOWS_PER_S = 300.0
REQUEST_TIMEOUT_S = 10.0
PROFILE_RATE = 200  # py-spy samples per second and thread
HOLDER_KEYS = 64  # per client process; a flow signs its proof with one of them, in turn
CONFIGURATION = "OpenBadgeCredential_jwt_vc_json"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
STEPS = ("offer", "fetch", "token", "nonce", "credential")
READY = "READY"

# The award of every offer: an Open Badges issue request without issuer, recipient and format.
OFFER_BODY: dict[str, Any] = {
    "issuer": ISSUER_SLUG,
    "awards": [
        {
            "credential": {
                "achievement": {
                    "id": "https://bench.example/achievements/python-101",
                    "name": "Python 101",
                    "description": "Completed the introductory Python course.",
                    "criteria": {"narrative": "Pass all six assignments and the final project."},
                    "achievementType": "Certificate",
                }
            }
        }
    ],
}

# The Python view of each step, to split the profile by endpoint (src/ec_issuer/api/routes_oid4vci.py).
VIEWS = {
    "create_offer": "offer",
    "offer_by_reference": "fetch",
    "token": "token",
    "nonce": "nonce",
    "credential": "credential",
}


# ----------------------------------------------------------------------------------- the wallet's key


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class HolderKey:
    """A P-256 wallet key that signs openid4vci-proof+jwt proofs (ES256, raw r||s, header jwk)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": jwk}
        self._header = b64url(orjson.dumps(header))

    def proof(self, audience: str, nonce: str) -> str:
        claims = {"aud": audience, "iat": int(time.time()), "nonce": nonce}
        signing_input = f"{self._header}.{b64url(orjson.dumps(claims))}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


# ------------------------------------------------------------------------------- the HTTP/1.1 client


class HttpError(Exception):
    """A socket error, a timeout or an answer this client cannot read."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the server, reopened after an error or a `Connection: close`."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._host = f"Host: {HOST}:{port}\r\n".encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._host
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode()
        message = head + (b"Content-Length: %d\r\n\r\n" % len(body) + body if body is not None else b"\r\n")
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection(HOST, self._port)
            reader, writer = self._streams
            writer.write(message)
            status, answer, close = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            self.close()
            raise HttpError(type(exc).__name__) from None
        if close:
            self.close()
        return status, answer

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


# ---------------------------------------------------------------------------- the load-generator child


class FlowFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Tally:
    """What one client process saw in the timed window."""

    flow_ms: list[float] = field(default_factory=list[float])
    step_ms: dict[str, list[float]] = field(default_factory=lambda: {step: [] for step in STEPS})
    failures: Counter[str] = field(default_factory=Counter[str])
    sign_cpu_ns: int = 0
    signatures: int = 0


@dataclass(frozen=True, slots=True)
class ClientConfig:
    port: int
    admin_token: str
    flows: int  # flows in flight in this process
    keep_wallet_connections: bool  # one keep-alive wallet connection per flow in flight, not one per flow
    warmup_until: float  # CLOCK_MONOTONIC: the timed window starts here
    until: float  # and ends here


def _expect(step: str, status: int, wanted: int, answer: bytes) -> Any:
    if status != wanted:
        raise FlowFailed(f"{step}: HTTP {status} {answer[:160]!r}")
    try:
        return orjson.loads(answer)
    except orjson.JSONDecodeError:
        raise FlowFailed(f"{step}: not JSON {answer[:160]!r}") from None


class Flows:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.tally = Tally()
        self.keys = [HolderKey() for _ in range(HOLDER_KEYS)]
        self._next_key = 0
        self._admin = {"Authorization": f"Bearer {config.admin_token}", "Content-Type": "application/json"}
        self._offer_body = orjson.dumps(OFFER_BODY)
        self._token_path = f"/issuers/{ISSUER_SLUG}/oid4vci/token"
        self._nonce_path = f"/issuers/{ISSUER_SLUG}/oid4vci/nonce"
        self._credential_path = f"/issuers/{ISSUER_SLUG}/oid4vci/credential"

    def _key(self) -> HolderKey:
        self._next_key = (self._next_key + 1) % len(self.keys)
        return self.keys[self._next_key]

    async def one(self, operator: Connection, wallet: Connection | None) -> list[tuple[str, float]]:
        """One complete flow; the wall time of each step, in s. The operator's requests go over its own keep-alive
        connection; the wallet's over `wallet`, or, when None, over a connection opened for this flow alone, as
        each learner's wallet is a client of its own."""
        if wallet is not None:
            return await self._steps(operator, wallet)
        own = Connection(self.config.port)
        try:
            return await self._steps(operator, own)
        finally:
            own.close()

    async def _steps(self, operator: Connection, wallet: Connection) -> list[tuple[str, float]]:
        steps: list[tuple[str, float]] = []
        clock = time.perf_counter

        started = clock()
        status, raw = await operator.request("POST", "/api/v1/offers", self._admin, self._offer_body)
        created = _expect("offer", status, 201, raw)
        steps.append(("offer", clock() - started))

        started = clock()
        status, raw = await wallet.request("GET", urlsplit(created["offerUri"]).path, {})
        offer = _expect("fetch", status, 200, raw)
        steps.append(("fetch", clock() - started))
        audience = offer["credential_issuer"]
        code = offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]

        started = clock()
        form = urlencode({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}).encode()
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        status, raw = await wallet.request("POST", self._token_path, form_type, form)
        access_token = _expect("token", status, 200, raw)["access_token"]
        steps.append(("token", clock() - started))

        started = clock()
        status, raw = await wallet.request("POST", self._nonce_path, {})
        nonce = _expect("nonce", status, 200, raw)["c_nonce"]
        steps.append(("nonce", clock() - started))

        started = clock()
        signing = time.thread_time_ns()
        proof = self._key().proof(audience, nonce)
        signed = time.thread_time_ns()
        if self.config.warmup_until <= time.monotonic() < self.config.until:
            self.tally.sign_cpu_ns += signed - signing
            self.tally.signatures += 1
        request = {"credential_configuration_id": CONFIGURATION, "proofs": {"jwt": [proof]}}
        headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
        status, raw = await wallet.request("POST", self._credential_path, headers, orjson.dumps(request))
        answer = _expect("credential", status, 200, raw)
        steps.append(("credential", clock() - started))
        credentials = answer.get("credentials")
        if not credentials or not isinstance(credentials[0].get("credential"), str):
            raise FlowFailed(f"credential: no credential in {raw[:160]!r}")
        if credentials[0]["credential"].count(".") != 2:
            raise FlowFailed("credential: not a compact JWS")
        return steps

    async def loop(self) -> None:
        """Flows back to back until the window ends; only those that end inside it count."""
        operator = Connection(self.config.port)
        wallet = Connection(self.config.port) if self.config.keep_wallet_connections else None
        try:
            while time.monotonic() < self.config.until:
                started = time.perf_counter()
                try:
                    steps = await self.one(operator, wallet)
                except (FlowFailed, HttpError, KeyError, TypeError, AttributeError) as exc:
                    reason = exc.reason if isinstance(exc, FlowFailed) else f"{type(exc).__name__}: {exc}"
                    if self.config.warmup_until <= time.monotonic() < self.config.until:
                        self.tally.failures[reason] += 1
                    operator.close()  # new connections after a failure, whatever state it left them in
                    if wallet is not None:
                        wallet.close()
                    continue
                ended = time.monotonic()
                if self.config.warmup_until <= ended < self.config.until:
                    self.tally.flow_ms.append((time.perf_counter() - started) * 1000)
                    for step, seconds in steps:
                        self.tally.step_ms[step].append(seconds * 1000)
        finally:
            operator.close()
            if wallet is not None:
                wallet.close()


def _rusage_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _drive(flows: Flows) -> dict[str, float]:
    loop = asyncio.get_running_loop()  # its clock is time.monotonic(), the same CLOCK_MONOTONIC as the parent's
    cpu: dict[str, float] = {}
    loop.call_at(flows.config.warmup_until, lambda: cpu.__setitem__("start", _rusage_seconds()))
    loop.call_at(flows.config.until, lambda: cpu.__setitem__("end", _rusage_seconds()))
    tasks = [loop.create_task(flows.loop()) for _ in range(flows.config.flows)]
    budget = flows.config.until - time.monotonic() + 4 * REQUEST_TIMEOUT_S
    await asyncio.wait_for(asyncio.gather(*tasks), budget)
    return cpu


def client_child(raw_config: str) -> None:
    """A load-generator process: makes its keys, says READY, reads the window's bounds, runs, prints its tally."""
    config = ClientConfig(**json.loads(raw_config))
    setup = Flows(config)
    print(READY, flush=True)
    warmup_until, until = (float(x) for x in sys.stdin.readline().split())
    setup.config = dataclasses.replace(config, warmup_until=warmup_until, until=until)
    cpu = asyncio.run(_drive(setup))
    tally = setup.tally
    result = {
        "flow_ms": tally.flow_ms,
        "step_ms": tally.step_ms,
        "failures": dict(tally.failures),
        "sign_cpu_s": tally.sign_cpu_ns / 1e9,
        "signatures": tally.signatures,
        "cpu_s": cpu.get("end", 0.0) - cpu.get("start", 0.0),
    }
    print(RESULT_MARK + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------- the window


@dataclass(frozen=True, slots=True)
class Window:
    """What the clients and the machine did in one timed window."""

    seconds: float
    flow_ms: list[float]
    step_ms: dict[str, list[float]]
    failures: Counter[str]
    client_cpu_s: float
    sign_cpu_s: float
    signatures: int
    server: ServerUsage
    machine_busy_s: float
    postgres_cpu_s: float  # every PostgreSQL process of the machine
    database_counters: dict[str, int]  # the probe's counters, after minus before (PostgreSQL: transactions)


@dataclass(frozen=True, slots=True)
class ThreadSample:
    utime_s: float
    stime_s: float
    switches: int  # voluntary + involuntary context switches


def server_threads_sample(root: int) -> dict[tuple[int, int], ThreadSample]:
    """Every thread of the server's process tree, by (pid, tid): its CPU (user, system) and context switches."""
    threads: dict[tuple[int, int], ThreadSample] = {}
    for pid in _process_tree(root):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    status = (task / "status").read_text()
                    switches = sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches:" in line)
                    utime, stime = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # stat fields 14, 15
                    threads[pid, int(task.name)] = ThreadSample(utime, stime, switches)
    return threads


@dataclass(frozen=True, slots=True)
class ServerUsage:
    """The server's use of the machine between two samples."""

    utime_s: float
    stime_s: float
    switches: int
    cpu_by_process: list[float]  # seconds, busiest first

    @property
    def cpu_s(self) -> float:
        return self.utime_s + self.stime_s


def server_usage(
    before: dict[tuple[int, int], ThreadSample], after: dict[tuple[int, int], ThreadSample]
) -> ServerUsage:
    zero = ThreadSample(0.0, 0.0, 0)
    utime = stime = 0.0
    switches = 0
    by_process: dict[int, float] = {}
    for key, now in after.items():
        then = before.get(key, zero)
        utime += now.utime_s - then.utime_s
        stime += now.stime_s - then.stime_s
        switches += now.switches - then.switches
        by_process[key[0]] = by_process.get(key[0], 0.0) + now.utime_s - then.utime_s + now.stime_s - then.stime_s
    return ServerUsage(utime, stime, switches, sorted(by_process.values(), reverse=True))


def postgres_cpu_seconds() -> float:
    """utime + stime of every live PostgreSQL process (named `postgres`), whoever's database it serves."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                raw = (entry / "stat").read_text()
                if raw[raw.index("(") + 1 : raw.rindex(")")] == "postgres":
                    fields = raw.rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


@contextlib.contextmanager
def load_generators(server: RunningServer, args: argparse.Namespace) -> Iterator[list[subprocess.Popen[str]]]:
    """The client processes, each READY with its keys made; any still running at the end is killed."""
    concurrency, clients = args.concurrency, args.clients
    shares = [concurrency // clients + (1 if n < concurrency % clients else 0) for n in range(clients)]
    script = str(Path(__file__).resolve())
    children: list[subprocess.Popen[str]] = []
    try:
        for share in shares:
            config = ClientConfig(server.port, server.admin_token, share, args.keep_wallet_connections, 0.0, 0.0)
            argv = [sys.executable, script, "--client-child", json.dumps(asdict(config))]
            pipe = subprocess.PIPE
            children.append(subprocess.Popen(argv, stdin=pipe, stdout=pipe, stderr=pipe, text=True))
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline().strip()
            if line != READY:
                child.kill()
                raise SystemExit(f"a load-generator process did not start: {line}{child.communicate(timeout=10)[1]}")
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)


Probe = Callable[[], dict[str, int]]


def run_window(
    server: RunningServer, args: argparse.Namespace, warmup_s: float, duration_s: float, probe: Probe | None = None
) -> Window:
    """Start the clients, let them warm up for warmup_s, then measure duration_s; all processes share the bounds."""
    with load_generators(server, args) as children:
        return _measured_window(server, children, warmup_s, duration_s, probe)


def _measured_window(
    server: RunningServer,
    children: list[subprocess.Popen[str]],
    warmup_s: float,
    duration_s: float,
    probe: Probe | None,
) -> Window:
    begin = time.monotonic() + 0.2
    warmup_until, until = begin + warmup_s, begin + warmup_s + duration_s
    for child in children:
        assert child.stdin is not None
        child.stdin.write(f"{warmup_until!r} {until!r}\n")
        child.stdin.flush()
    time.sleep(max(warmup_until - time.monotonic(), 0.0))
    threads_before, busy_before = server_threads_sample(server.pid), machine_busy_seconds()
    postgres_before = postgres_cpu_seconds()
    counters_before = probe() if probe is not None else {}
    time.sleep(max(until - time.monotonic(), 0.0))
    threads_after, busy = server_threads_sample(server.pid), machine_busy_seconds() - busy_before
    postgres = postgres_cpu_seconds() - postgres_before
    counters = {name: value - counters_before[name] for name, value in (probe() if probe else {}).items()}
    flow_ms: list[float] = []
    step_ms: dict[str, list[float]] = {step: [] for step in STEPS}
    failures: Counter[str] = Counter()
    client_cpu = sign_cpu = 0.0
    signatures = 0
    for child in children:
        stdout, stderr = child.communicate(timeout=8 * REQUEST_TIMEOUT_S)
        result = next((line for line in stdout.splitlines() if line.startswith(RESULT_MARK)), None)
        if child.returncode != 0 or result is None:
            raise SystemExit(f"a load-generator process failed ({child.returncode}):\n{stdout[-2000:]}{stderr[-3000:]}")
        tally = json.loads(result[len(RESULT_MARK) :])
        flow_ms.extend(tally["flow_ms"])
        for step in STEPS:
            step_ms[step].extend(tally["step_ms"][step])
        failures.update(tally["failures"])
        client_cpu += tally["cpu_s"]
        sign_cpu += tally["sign_cpu_s"]
        signatures += tally["signatures"]
    return Window(
        seconds=until - warmup_until,
        flow_ms=flow_ms,
        step_ms=step_ms,
        failures=failures,
        client_cpu_s=client_cpu,
        sign_cpu_s=sign_cpu,
        signatures=signatures,
        server=server_usage(threads_before, threads_after),
        machine_busy_s=busy,
        postgres_cpu_s=postgres,
        database_counters=counters,
    )


# ------------------------------------------------------------------------------------------ results


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


@dataclass(frozen=True, slots=True)
class Measurement:
    database: str
    workers: int
    threads_per_worker: int
    concurrency: int
    clients: int
    seconds: float
    flows: int
    flows_per_s: float
    p50_ms: float
    p99_ms: float
    step_p50_ms: dict[str, float]
    step_p99_ms: dict[str, float]
    failures: int
    failure_reasons: dict[str, int]
    server_cpu_ms_per_flow: float
    server_cores_busy: float
    server_system_ms_per_flow: float  # of server_cpu_ms_per_flow, in the kernel
    server_switches_per_flow: float  # context switches of the server's threads
    server_cores_by_process: list[float]
    # PostgreSQL only: transactions per flow from pg_stat_database (a read-only `connect()` ends in a rollback).
    database_commits_per_flow: float | None
    database_rollbacks_per_flow: float | None
    client_cpu_ms_per_flow: float
    client_sign_cpu_ms_per_flow: float
    client_cores_busy: float
    # Cores busy with anything but the server and the clients: for PostgreSQL its backends, and other tenants.
    other_cores_busy: float
    postgres_cpu_ms_per_flow: float  # every PostgreSQL process of the machine: its backends, and other users'
    postgres_cores_busy: float


def summarise(database: str, args: argparse.Namespace, threads: int, window: Window) -> Measurement:
    flows, wall = len(window.flow_ms), window.seconds
    done = max(flows, 1)
    return Measurement(
        database=database,
        workers=args.workers,
        threads_per_worker=threads,
        concurrency=args.concurrency,
        clients=args.clients,
        seconds=wall,
        flows=flows,
        flows_per_s=flows / wall,
        p50_ms=percentile(window.flow_ms, 50),
        p99_ms=percentile(window.flow_ms, 99),
        step_p50_ms={step: percentile(window.step_ms[step], 50) for step in STEPS},
        step_p99_ms={step: percentile(window.step_ms[step], 99) for step in STEPS},
        failures=sum(window.failures.values()),
        failure_reasons=dict(window.failures.most_common(10)),
        server_cpu_ms_per_flow=window.server.cpu_s * 1000 / done,
        server_cores_busy=window.server.cpu_s / wall,
        server_system_ms_per_flow=window.server.stime_s * 1000 / done,
        server_switches_per_flow=window.server.switches / done,
        server_cores_by_process=[cpu / wall for cpu in window.server.cpu_by_process],
        database_commits_per_flow=(
            window.database_counters["commits"] / done if "commits" in window.database_counters else None
        ),
        database_rollbacks_per_flow=(
            window.database_counters["rollbacks"] / done if "rollbacks" in window.database_counters else None
        ),
        client_cpu_ms_per_flow=window.client_cpu_s * 1000 / done,
        client_sign_cpu_ms_per_flow=window.sign_cpu_s * 1000 / max(window.signatures, 1),
        client_cores_busy=window.client_cpu_s / wall,
        other_cores_busy=max(
            window.machine_busy_s - window.server.cpu_s - window.client_cpu_s - window.postgres_cpu_s, 0.0
        )
        / wall,
        postgres_cpu_ms_per_flow=window.postgres_cpu_s * 1000 / done,
        postgres_cores_busy=window.postgres_cpu_s / wall,
    )


def print_measurement(m: Measurement) -> None:
    steps = "  ".join(f"{step} {m.step_p50_ms[step]:.2f}/{m.step_p99_ms[step]:.2f}" for step in STEPS)
    print(
        f"  {m.database:<8} {m.flows_per_s:7,.1f} flows/s ({m.flows} in {m.seconds:g} s)  flow p50 {m.p50_ms:.2f} ms"
        f"  p99 {m.p99_ms:.2f} ms  failures {m.failures}",
        flush=True,
    )
    print(f"           step p50/p99 ms: {steps}")
    print(
        f"           server CPU {m.server_cpu_ms_per_flow:.2f} ms/flow ({m.server_cores_busy:.2f} cores); client CPU"
        f" {m.client_cpu_ms_per_flow:.2f} ms/flow, of which proof signing {m.client_sign_cpu_ms_per_flow:.3f}"
        f" ({m.client_cores_busy:.2f} cores)"
    )
    print(
        f"           PostgreSQL processes {m.postgres_cpu_ms_per_flow:.2f} ms/flow ({m.postgres_cores_busy:.2f} cores);"
        f" everything else {m.other_cores_busy:.2f} cores"
    )
    print(
        f"           server: {m.server_system_ms_per_flow:.2f} ms/flow of it in the kernel,"
        f" {m.server_switches_per_flow:.1f} context switches/flow; cores busy by process:"
        f" {' '.join(f'{cores:.2f}' for cores in m.server_cores_by_process)}"
    )
    if m.database_commits_per_flow is not None and m.database_rollbacks_per_flow is not None:
        print(
            f"           database: {m.database_commits_per_flow:.1f} commits + {m.database_rollbacks_per_flow:.1f}"
            " rollbacks per flow (pg_stat_database; rollbacks end read-only connections)"
        )
    for reason, count in m.failure_reasons.items():
        print(f"           failure x{count}: {reason}")


def print_table(results: list[Measurement]) -> None:
    columns = (
        "database  flows/s  p50 ms  p99 ms  failures | step p50 ms: offer  fetch  token  nonce  cred "
        "| CPU ms/flow: server client postgres | cores: server client postgres other"
    )
    print("\n" + columns)
    print("-" * len(columns))
    for m in results:
        steps = " ".join(f"{m.step_p50_ms[step]:6.2f}" for step in STEPS)
        print(
            f"{m.database:<8} {m.flows_per_s:8,.1f} {m.p50_ms:7.2f} {m.p99_ms:7.2f} {m.failures:9d} |"
            f"             {steps} |             {m.server_cpu_ms_per_flow:6.2f} {m.client_cpu_ms_per_flow:6.2f}"
            f" {m.postgres_cpu_ms_per_flow:8.2f} |        {m.server_cores_busy:6.2f} {m.client_cores_busy:6.2f}"
            f" {m.postgres_cores_busy:8.2f} {m.other_cores_busy:5.2f}"
        )
    cpus = os.cpu_count() or 1
    print(
        f"({cpus} CPUs shared by server, clients and PostgreSQL; cores = average CPUs busy in the window; postgres ="
        " every PostgreSQL process; other = the rest of the machine)"
    )
    for m in results:
        met = m.flows_per_s >= TARGET_FLOWS_PER_S and m.failures == 0
        cpu = m.server_cpu_ms_per_flow + m.client_cpu_ms_per_flow + m.postgres_cpu_ms_per_flow
        print(
            f"{m.database:<8} ({m.workers} workers x {m.threads_per_worker} threads, {m.concurrency} flows in flight)"
            f" target >= {TARGET_FLOWS_PER_S:.0f} flows/s: {'MET' if met else 'NOT MET'} ({m.flows_per_s:,.1f}/s,"
            f" {m.failures} failures); CPU per flow {cpu:.2f} ms, so {cpus} busy cores make at most"
            f" {cpus * 1000 / cpu:,.0f} flows/s; the target needs <= {cpus * 1000 / TARGET_FLOWS_PER_S:.2f} ms"
        )


# ------------------------------------------------------------------------------------------ profile


def _frame_parts(frame: str) -> tuple[str, str]:
    """py-spy's `function (path:line)` as the function and a short module path."""
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return function, path


def _package(path: str) -> str:
    if path.startswith("ec_issuer/"):
        return "/".join(path.split("/")[:2]).removesuffix(".py")  # ec_issuer/<subpackage>
    return path.split("/", 1)[0].removesuffix(".py")  # a library, or a stdlib module


_DRIVER_CALLS = frozenset({"do_execute", "do_executemany", "do_commit", "do_rollback", "do_begin"})
_WEB = ("werkzeug", "flask", "apiflask")


def _is_driver(function: str, path: str, _frames: list[tuple[str, str]]) -> bool:
    return path.startswith("psycopg") or (
        path.startswith("sqlalchemy/") and function.rsplit(".", 1)[-1] in _DRIVER_CALLS
    )


def _is_executing(_function: str, path: str, frames: list[tuple[str, str]]) -> bool:
    return path.startswith("sqlalchemy/") and any(p.startswith("sqlalchemy/engine/") for _, p in frames)


def _in(*prefixes: str) -> Callable[[str, str, list[tuple[str, str]]], bool]:
    return lambda _function, path, _frames: path.startswith(prefixes)


# What a sample's innermost Python frame was doing, in the terms one would optimise: the first rule that matches.
_AREAS: list[tuple[Callable[[str, str, list[tuple[str, str]]], bool], str]] = [
    (_is_driver, "database driver (sqlite3's C calls, psycopg and libpq)"),
    (_is_executing, "SQLAlchemy Core executing (compile cache, parameters, results, transactions)"),
    (_in("sqlalchemy/"), "SQLAlchemy Core building statements (select/insert/update/where)"),
    (_in("granian/"), "granian's WSGI runner (environ; writing the response)"),
    (
        _in(*(f"{name}/" for name in _WEB), "flask_httpauth.py"),
        "Werkzeug, Flask, APIFlask (routing, request, response)",
    ),
    (_in("ec_issuer/signing/", "ec_issuer/custody/", "cryptography/"), "signing and verifying (ES256, cryptography)"),
    (_in("ec_issuer/"), "ec_issuer's own code"),
    (_in("pydantic", "jsonschema_rs", "orjson"), "pydantic, jsonschema-rs, orjson"),
]


def _area(frames: list[tuple[str, str]]) -> str:
    function, path = frames[-1]
    return next(
        (label for matches, label in _AREAS if matches(function, path, frames)), "standard library and the rest"
    )


@dataclass(frozen=True, slots=True)
class Profiled:
    """The profiled window, to read py-spy's shares against."""

    mode: str
    flows_per_s: float
    cpu_ms_per_flow: float  # the server's CPU per flow: turns the endpoints' shares into ms
    cores: float  # the server's CPU per second of the window, from /proc
    sampled_s: float  # how long py-spy sampled, at PROFILE_RATE


def print_profile(raw_path: Path, top: int, profiled: Profiled) -> None:
    """Aggregate py-spy's collapsed stacks: samples by endpoint, by package (self) and by function."""
    total = 0
    by_view: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    self_by_package: Counter[str] = Counter()
    self_by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_parts(frame) for frame in stack.split(";") if " (" in frame]
        if not frames or (profiled.mode == "wall" and not any(path == "granian/wsgi.py" for _, path in frames)):
            continue  # wall samples: only threads in a request (granian's runner), not idle helpers
        total += count
        view = next((VIEWS[f] for f, path in frames if path.endswith("routes_oid4vci.py") and f in VIEWS), None)
        if view is None:
            # Bearer authentication runs in flask_httpauth's decorator, before the view's frame; in a flow only
            # the offer request is authenticated that way (the wallet's token is read inside the views).
            authenticating = any(path == "flask_httpauth.py" for _, path in frames)
            view = "offer" if authenticating else "other"
        by_view[view] += count
        function, path = frames[-1]
        by_area[_area(frames)] += count
        self_by_package[_package(path)] += count
        self_by_function[f"{function} ({path})"] += count
        for name in {f"{f} ({p})" for f, p in frames if p.startswith("ec_issuer/")}:
            inclusive[name] += count
    if not total:
        print("  py-spy recorded no Python samples")
        return

    def share(count: int) -> str:
        return f"{count * 100 / total:5.1f}%"

    threads = total / PROFILE_RATE / profiled.sampled_s
    where = " in a request" if profiled.mode == "wall" else ""
    print(
        f"  {total} samples: {threads:.2f} threads{where} on average, against {profiled.cores:.2f} cores of server"
        " CPU in /proc"
        + (
            "; far more samples than cores: waits were sampled, try --profile-mode gil"
            if threads > 1.3 * profiled.cores and profiled.mode != "wall"
            else ""
        )
    )
    if profiled.mode == "wall":
        # Thread time in requests, on CPU or waiting: samples / rate per flow.
        unit, ms_per_sample = "thread ms/flow", 1000 / PROFILE_RATE / (profiled.flows_per_s * profiled.sampled_s)
    else:
        unit, ms_per_sample = "CPU ms/flow", profiled.cpu_ms_per_flow / total
    print(f"  by endpoint (inclusive; other = granian, Werkzeug and Flask outside the views), {unit}:")
    for view in (*STEPS, "other"):
        count = by_view[view]
        print(f"    {share(count)}  {count * ms_per_sample:5.2f}  {view}")
    print(f"  by area (self time; native code counts for the Python frame that called it), {unit}:")
    for name, count in by_area.most_common():
        print(f"    {share(count)}  {count * ms_per_sample:5.2f}  {name}")
    for title, counter in (
        ("self time by package", self_by_package),
        ("self time by function", self_by_function),
        ("inclusive time of ec_issuer functions", inclusive),
    ):
        print(f"  {title}:")
        for name, count in counter.most_common(top):
            print(f"    {share(count)}  {name}")


def profile_window(server: RunningServer, args: argparse.Namespace, scratch: Path, database: str, threads: int) -> None:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        print("NOTE: --profile skipped: py-spy is not installed (pip install py-spy)")
        return
    raw_path = scratch / "server.pyspy.txt"
    seconds = int(args.profile_seconds)
    mode = args.profile_mode if args.profile_mode != "auto" else ("gil" if threads > 1 else "cpu")
    argv = [
        *(py_spy, "record", "--pid", str(server.pid), "--subprocesses", "--nonblocking"),
        *("--rate", str(PROFILE_RATE), "--format", "raw", "--duration", str(seconds), "--output", str(raw_path)),
        *({"gil": ["--gil"], "wall": ["--idle"]}.get(mode, [])),
    ]
    # The sampler starts first and the load with it, so that its whole recording sees the load.
    sampler = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        window = run_window(server, args, 0.5, seconds - 1.0)
        output = sampler.communicate(timeout=seconds + 60)[0]
    finally:
        if sampler.poll() is None:
            sampler.kill()
            sampler.wait(timeout=10)
    if sampler.returncode != 0 or not raw_path.exists():
        print(f"NOTE: py-spy failed ({sampler.returncode}): {output[-1500:]}")
        return
    flows = max(len(window.flow_ms), 1)
    cpu_ms_per_flow = window.server.cpu_s * 1000 / flows
    print(
        f"  profiled window (py-spy {mode} samples at {PROFILE_RATE} Hz; not a figure):"
        f" {len(window.flow_ms) / window.seconds:,.1f} flows/s, {sum(window.failures.values())} failures,"
        f" server CPU {cpu_ms_per_flow:.2f} ms/flow"
    )
    flows_per_s = len(window.flow_ms) / window.seconds
    cores = window.server.cpu_s / window.seconds
    print_profile(raw_path, args.top, Profiled(mode, flows_per_s, cpu_ms_per_flow, cores, seconds))
    if args.save_profile is not None:
        args.save_profile.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(raw_path, args.save_profile / f"{database}.pyspy.txt")
        print(f"  collapsed stacks saved to {args.save_profile / f'{database}.pyspy.txt'} (flamegraph.pl reads them)")


# -------------------------------------------------------------------------------------------- driving


def sanity_flow(server: RunningServer) -> None:
    """One flow before any measurement, so that a broken flow stops the run with the reason."""
    flows = Flows(ClientConfig(server.port, server.admin_token, 1, False, 0.0, float("inf")))

    async def once() -> list[tuple[str, float]]:
        operator = Connection(server.port)
        try:
            return await flows.one(operator, None)
        finally:
            operator.close()

    try:
        asyncio.run(once())
    except (FlowFailed, HttpError) as exc:
        raise SystemExit(f"the sanity flow failed: {exc}") from None


def postgres_probe(url: str) -> Probe:
    """The database's transaction counters (pg_stat_database; backends report them within about a second)."""
    from sqlalchemy import NullPool, create_engine, text

    def sample() -> dict[str, int]:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                row = connection.execute(
                    text("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()")
                ).one()
        finally:
            engine.dispose()
        return {"commits": int(row.xact_commit), "rollbacks": int(row.xact_rollback)}

    return sample


def bench_database(database: str, args: argparse.Namespace) -> list[Measurement]:
    with started_server(database, args, "ec-issuer-bench-") as started:
        if started is None:
            return []
        server, threads = started.server, started.threads
        register_fixtures(server)  # issuer `bench` and its ES256 key (and an issuing client, unused)
        sanity_flow(server)
        probe = postgres_probe(started.database_url) if database == "postgres" else None
        window = run_window(server, args, args.warmup, args.duration, probe)
        measurement = summarise(database, args, threads, window)
        print_measurement(measurement)
        if args.profile:
            profile_window(server, args, started.data_dir, database, threads)
        return [measurement]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0, help="timed window per database, s (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed warm-up before it, s (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="flows in flight, in total (default 16)")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes (default 2)")
    parser.add_argument(
        "--keep-wallet-connections",
        action="store_true",
        help="the wallet's requests over one keep-alive connection per flow in flight (default: a new one per flow)",
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument(
        "--threads",
        type=int,
        help="granian blocking threads per worker, as SERVER_THREADS (default: the service's, 1 SQLite, 4 PostgreSQL)",
    )
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="administrative PostgreSQL URL; a throw-away database is created on it and dropped",
    )
    parser.add_argument("--profile", action="store_true", help="add a py-spy profiled window per database")
    parser.add_argument("--profile-seconds", type=float, default=10.0, help="its length, s (default 10)")
    parser.add_argument(
        "--profile-mode",
        choices=["auto", "cpu", "gil", "wall"],
        default="auto",
        help="py-spy samples of threads on CPU (cpu), of the thread holding the GIL (gil: py-spy --gil), or of"
        " every thread in a request, waiting or not (wall: py-spy --idle); auto: gil when a worker runs more than"
        " one thread, else cpu",
    )
    parser.add_argument("--top", type=int, default=25, help="rows per profile table (default 25)")
    parser.add_argument(
        "--save-profile", type=Path, help="keep py-spy's collapsed stacks in this directory (<database>.pyspy.txt)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgres"}:
        parser.error("--databases takes sqlite and/or postgres")
    if not 0 < args.duration <= 300 or not 0 <= args.warmup <= 60 or not 3 <= args.profile_seconds <= 120:
        parser.error("--duration must be in (0, 300], --warmup in [0, 60] and --profile-seconds in [3, 120]")
    if not 1 <= args.clients <= 16 or not args.clients <= args.concurrency <= 256:
        parser.error("--clients must be 1..16 and --concurrency from --clients to 256")
    if not 1 <= args.workers <= 16 or not 1 <= (args.threads or 1) <= 64:
        parser.error("--workers must be 1..16 and --threads 1..64")
    args.databases = databases
    args.server = "granian"  # what issue_jose.running_server starts: `ec-issuer serve`, as in production
    return args


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--client-child":
        client_child(sys.argv[2])
        return
    args = parse_arguments()
    wallets = (
        "one keep-alive wallet connection per flow in flight"
        if args.keep_wallet_connections
        else "a new wallet connection per flow"
    )
    print(f"ec-issuer OID4VCI flow benchmark: granian x{args.workers} workers, {args.concurrency} flows in flight")
    print(f"  from {args.clients} load-generator processes (asyncio, raw HTTP/1.1; per flow in flight one keep-alive")
    print(f"  operator connection; {wallets})")
    print(f"  {args.warmup:g} s warm-up + {args.duration:g} s per database, databases {', '.join(args.databases)}")
    print("  flow = POST offers, GET offer, POST token, POST nonce, POST credential (one ES256 jwt proof)")
    print(f"  source: {source_revision()}")
    print(f"  python {platform.python_version()}, {_versions()}")
    print(
        f"  {os.cpu_count()} CPUs shared by the server, the load generators and PostgreSQL;"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    results: list[Measurement] = []
    for database in args.databases:
        results.extend(bench_database(database, args))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
