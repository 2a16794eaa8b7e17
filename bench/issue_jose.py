"""Benchmark VC-JOSE issuing (`POST /api/v1/credentials`) over real HTTP against a production server.

For each database (SQLite, PostgreSQL) the script starts the service as a subprocess in production mode
with a fresh data directory, registers an issuer, an ES256 key and an issuing client over the admin API,
then drives `GET /health` and `POST /api/v1/credentials` with a fixed number of keep-alive connections for
a fixed time (after a warm-up) from a separate load-generator process: `wrk` when installed, else a
Python asyncio raw-socket HTTP/1.1 client. It prints requests/s, p50/p99 latency, non-2xx answers and the
server's CPU time per request (utime + stime of the server's whole process tree from /proc), and the
issue/health ratios, which are what to compare between runs on a noisy machine.

    uv run python bench/issue_jose.py [--duration S] [--connections N] [--server granian|gunicorn]
                                      [--workers N] [--threads N] [--databases sqlite,postgres]
                                      [--generator auto|wrk|python] [--json FILE]

granian is started exactly as in production (`ec-issuer serve --workers N`), so its blocking threads per
worker are the service's default for the database (1 on SQLite, 4 on PostgreSQL) unless `--threads`
sets SERVER_THREADS.

Every request goes to 127.0.0.1; every run is bounded in time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import http.client
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ec_issuer.config import load_settings

HOST = "127.0.0.1"
CLI = "from ec_issuer.cli.main import cli; cli()"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RESULT_MARK = "BENCH-RESULT "
ISSUER_SLUG = "bench"
TARGET_RPS = 1500.0
TARGET_P99_MS = 50.0
REQUEST_TIMEOUT_S = 5
STARTUP_TIMEOUT_S = 90.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The body of every issuing request; RECIPIENT is replaced per request so that no two bodies are equal.
RECIPIENT = "@RECIPIENT@"
ISSUE_BODY: dict[str, Any] = {
    "issuer": ISSUER_SLUG,
    "recipient": {"email": f"learner-{RECIPIENT}@example.org"},
    "achievement": {
        "id": "https://bench.example/achievements/python-101",
        "name": "Python 101",
        "description": "Completed the introductory Python course.",
        "criteria": {"narrative": "Pass all six assignments and the final project."},
        "achievementType": "Certificate",
    },
}


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    method: str
    path: str
    authorized: bool
    varied_body: bool


HEALTH = Endpoint("health", "GET", "/health", authorized=False, varied_body=False)
ISSUE = Endpoint("issue", "POST", "/api/v1/credentials", authorized=True, varied_body=True)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What the load generator reports for one timed window."""

    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int


@dataclass(frozen=True, slots=True)
class Measurement:
    database: str
    endpoint: str
    workers: int
    threads_per_worker: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    server_cpu_ms_per_request: float
    server_cores_busy: float
    generator_cpu_ms_per_request: float
    # Cores busy with anything but the server and the load generator: other tenants of the machine, and
    # for PostgreSQL its own server processes. High values mean a noisy window.
    other_cores_busy: float


# ------------------------------------------------------------------------------- server CPU from /proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return raw.rsplit(")", 1)[1].split()


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> dict[int, float]:
    """utime + stime of a process and each live descendant (granian and gunicorn spawn workers), by pid."""
    cpu: dict[int, float] = {}
    for pid in _process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            cpu[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK  # stat fields 14 and 15
    return cpu


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy (not idle, not waiting for I/O), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # user..steal, less idle and iowait


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------------ HTTP helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def call(port: int, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw.decode(errors="replace")


def expect(status: int, answer: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        raise SystemExit(f"{what}: expected HTTP {wanted}, got {status}: {answer}")
    return answer


# --------------------------------------------------------------------------------------- the server


@dataclass(frozen=True, slots=True)
class RunningServer:
    pid: int
    port: int
    admin_token: str


def _server_environment(data_dir: Path, database_url: str, port: int, threads: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EC_ISSUER_", "SERVER_", "AUTHZ_", "KEYSTORE_"))}
    env.pop("DATABASE_URL", None)
    env.pop("DB_AUTO_UPGRADE", None)
    env.update(
        EC_ISSUER_ENV="production",
        EC_ISSUER_DATA_DIR=str(data_dir),
        KEYSTORE_SECRET=secrets.token_urlsafe(32),
        ADMIN_BOOTSTRAP_TOKEN="bench_" + secrets.token_urlsafe(32),
        DB_AUTO_UPGRADE="true",
        SERVER_HOST=HOST,
        SERVER_PORT=str(port),
        ISSUER_BASE_URL="https://badges.bench.example",
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
    )
    if threads is not None:
        env["SERVER_THREADS"] = str(threads)
    return env


def _run_cli(env: dict[str, str], cwd: Path, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CLI, *arguments],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ec-issuer {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def server_threads(database_url: str, threads: int | None) -> int:
    """Blocking threads per granian worker, by the service's own rule: SERVER_THREADS (`--threads`), else the
    default for the database (src/ec_issuer/config.py)."""
    environment = _server_environment(Path(tempfile.gettempdir()), database_url, 0, threads)
    return load_settings(environment).server_threads


def _server_command(kind: str, workers: int, env: dict[str, str], data_dir: Path) -> tuple[list[str], str]:
    """The argument vector that starts the server, and the admin token it will accept."""
    if kind == "granian":
        # Exactly `ec-issuer serve`: migrate, create the bootstrap admin client, exec granian with the
        # service's flags (blocking threads from SERVER_THREADS or the database's default).
        return [sys.executable, "-c", CLI, "serve", "--workers", str(workers)], env["ADMIN_BOOTSTRAP_TOKEN"]
    # gunicorn gets no start-up preparation from `serve`: do it with the CLI first.
    _run_cli(env, data_dir, "db", "upgrade")
    admin = json.loads(_run_cli(env, data_dir, "clients", "create", "--name", "bench-admin", "--admin"))
    argv = [
        *(sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"{HOST}:{env['SERVER_PORT']}"),
        *("--log-level", "warning", "ec_issuer.api.wsgi:create()"),
    ]
    return argv, str(admin["token"])


def _wait_live(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    # /health, not /ready: a fresh production keystore directory only appears with the first key, and until
    # then /ready answers 503 ("not writable"). register_fixtures checks /ready once the key exists.
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = call(port, "GET", "/health")
            if status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The server runs in its own session (start_new_session): its process group holds it and its workers.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def running_server(args: argparse.Namespace, database_url: str, data_dir: Path) -> Iterator[RunningServer]:
    port = free_port()
    env = _server_environment(data_dir, database_url, port, args.threads)
    argv, admin_token = _server_command(args.server, args.workers, env, data_dir)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_live(process, port, log_path)
        yield RunningServer(process.pid, port, admin_token)
    finally:
        _stop(process)


@dataclass(frozen=True, slots=True)
class StartedServer:
    server: RunningServer
    data_dir: Path
    database_url: str
    threads: int  # blocking threads per worker


@contextlib.contextmanager
def started_server(database: str, args: argparse.Namespace, prefix: str) -> Iterator[StartedServer | None]:
    """A fresh data directory and database (SQLite, or a throw-away PostgreSQL one) and the server on them;
    None, after postgres_database's note, when PostgreSQL cannot be reached."""
    with tempfile.TemporaryDirectory(prefix=prefix) as raw_dir:
        data_dir = Path(raw_dir)
        context = sqlite_database(data_dir) if database == "sqlite" else postgres_database(args.postgres_url)
        with context as url:
            if url is None:
                yield None
                return
            threads = server_threads(url, args.threads) if args.server == "granian" else 1
            print(
                f"[{database}] starting {args.server} with {args.workers} workers x {threads} "
                f"thread{'s' if threads != 1 else ''} ...",
                flush=True,
            )
            with running_server(args, url, data_dir) as server:
                yield StartedServer(server, data_dir, url, threads)


def measure_endpoints(
    generator: Generator,
    started: StartedServer,
    database: str,
    args: argparse.Namespace,
    token: str,
    endpoints: Iterable[Endpoint],
) -> list[Measurement]:
    """`measure` each endpoint in turn with the run's connections, duration and warm-up."""
    server = started.server
    return [
        measure(
            generator,
            server,
            LoadSpec(server.port, endpoint, token, args.connections, args.duration),
            args.warmup,
            database,
            started.data_dir,
            (args.workers, started.threads),
        )
        for endpoint in endpoints
    ]


def register_fixtures(server: RunningServer) -> str:
    """An issuer with an ES256 key and a client scoped to it; returns that client's token."""
    issuer = {"slug": ISSUER_SLUG, "name": "Benchmark University", "url": "https://bench.example"}
    port, admin = server.port, server.admin_token
    expect(*call(port, "POST", "/api/v1/issuers", admin, issuer), 201, "create issuer")
    expect(*call(port, "POST", f"/api/v1/issuers/{ISSUER_SLUG}/keys", admin, {"algorithm": "ES256"}), 201, "key")
    expect(*call(port, "GET", "/ready"), 200, "readiness once a key exists")
    client = {"name": "bench-issuing-client", "issuers": [ISSUER_SLUG]}
    token = str(expect(*call(port, "POST", "/api/v1/clients", admin, client), 201, "create client")["token"])
    body = json.loads(json.dumps(ISSUE_BODY).replace(RECIPIENT, "sanity"))
    issued = expect(*call(port, "POST", ISSUE.path, token, body), 201, "issue one credential")
    header = json.loads(_b64url(issued["jws"].split(".")[0]))
    if header.get("typ") != "vc+jwt" or header.get("alg") != "ES256":
        raise SystemExit(f"unexpected JWS header {header}")
    return token


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------------------------------ databases


@contextlib.contextmanager
def sqlite_database(data_dir: Path) -> Iterator[str | None]:
    yield f"sqlite:///{data_dir / 'ec-issuer.db'}"


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str | None]:
    """A throw-away database, dropped afterwards; None (and a note) when PostgreSQL is unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    name = f"ec_issuer_bench_{secrets.token_hex(5)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        print(f"NOTE: PostgreSQL skipped: cannot create a database on {admin_url}: {exc.orig}")
        yield None
        return
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ------------------------------------------------------------------------------------ load generators


@dataclass(frozen=True, slots=True)
class LoadSpec:
    port: int
    endpoint: Endpoint
    token: str
    connections: int
    duration_s: float


def _body_parts() -> tuple[str, str]:
    prefix, suffix = json.dumps(ISSUE_BODY, separators=(",", ":")).split(RECIPIENT)
    return prefix, suffix


_WRK_SCRIPT = """
local threads = {}
local counter = 0
non2xx = 0  -- global: done() reads it from each thread with thread:get
wrk.method = "%(method)s"
%(headers)s
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
%(request)s
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_s":%%.6f,"p50_ms":%%.3f,"p99_ms":%%.3f,"non2xx":%%d,"socket_errors":%%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    bad, e.connect + e.read + e.write + e.timeout))
end
"""

_WRK_VARIED_REQUEST = """
local prefix = [==[%(prefix)s]==]
local suffix = [==[%(suffix)s]==]
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. tid .. "-" .. counter .. suffix)
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable ASCII is also a valid Lua string literal


def _wrk_script(spec: LoadSpec, request: str | None = None) -> str:
    """The Lua script for one endpoint; `request` (a Lua `request` function) replaces the default one."""
    headers = [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in _request_headers(spec).items()]
    if request is None:
        request = ""
        if spec.endpoint.varied_body:
            prefix, suffix = _body_parts()
            request = _WRK_VARIED_REQUEST % {"prefix": prefix, "suffix": suffix}
    return _WRK_SCRIPT % {
        "method": spec.endpoint.method,
        "headers": "\n".join(headers),
        "request": request,
        "mark": RESULT_MARK,
    }


def _request_headers(spec: LoadSpec) -> dict[str, str]:
    headers: dict[str, str] = {}
    if spec.endpoint.authorized:
        headers["Authorization"] = f"Bearer {spec.token}"
    if spec.endpoint.method == "POST":
        headers["Content-Type"] = "application/json"
    return headers


def _parse_result(stdout: str, what: str) -> LoadResult:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return LoadResult(**json.loads(line[len(RESULT_MARK) :]))
    raise SystemExit(f"{what} printed no result:\n{stdout[-3000:]}")


def run_wrk(wrk: str, spec: LoadSpec, scratch: Path, request: str | None = None) -> LoadResult:
    script = scratch / f"{spec.endpoint.name}.lua"
    script.write_text(_wrk_script(spec, request))
    argv = [
        wrk,
        "--threads",
        "1",
        "--connections",
        str(spec.connections),
        "--duration",
        f"{spec.duration_s:g}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_S}s",
        "--script",
        str(script),
        f"http://{HOST}:{spec.port}{spec.endpoint.path}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=spec.duration_s + 60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return _parse_result(done.stdout, "wrk")


def run_python_generator(spec: LoadSpec) -> LoadResult:
    config = {
        "port": spec.port,
        "method": spec.endpoint.method,
        "path": spec.endpoint.path,
        "headers": _request_headers(spec),
        "body_parts": list(_body_parts()) if spec.endpoint.varied_body else None,
        "connections": spec.connections,
        "duration_s": spec.duration_s,
    }
    argv = [sys.executable, str(Path(__file__).resolve()), "--loadgen-child", json.dumps(config)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=spec.duration_s + 60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the Python load generator failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return _parse_result(done.stdout, "the Python load generator")


# The fallback generator: one asyncio task per keep-alive connection, raw HTTP/1.1 over streams.


class _Tally:
    def __init__(self) -> None:
        self.latencies_ns: list[int] = []
        self.non2xx = 0
        self.socket_errors = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one response: its status, its body and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = 0, False, head.startswith(b"HTTP/1.0")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    if not chunked:
        return status, await reader.readexactly(length) if length else b"", close
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        parts.append((await reader.readexactly(size + 2))[:-2])
        if size == 0:
            return status, b"".join(parts), close


async def _connection(config: dict[str, Any], number: int, deadline: float, tally: _Tally) -> None:
    head = f"{config['method']} {config['path']} HTTP/1.1\r\nHost: {HOST}:{config['port']}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in config["headers"].items())
    parts = config["body_parts"]
    prefix, suffix = (parts[0].encode(), parts[1].encode()) if parts else (b"", b"")
    fixed = head.encode() + b"\r\n"
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    sent = 0
    while time.monotonic() < deadline:
        if parts:
            sent += 1
            body = prefix + f"{number}-{sent}".encode() + suffix
            message = head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body
        else:
            message = fixed
        try:
            if streams is None:
                streams = await asyncio.open_connection(HOST, config["port"])
            reader, writer = streams
            started = time.perf_counter_ns()
            writer.write(message)
            status, _, close = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            tally.socket_errors += 1
            if streams is not None:
                streams[1].close()
            streams = None
            continue
        tally.latencies_ns.append(time.perf_counter_ns() - started)
        if not 200 <= status <= 299:
            tally.non2xx += 1
        if close:
            writer.close()
            streams = None
    if streams is not None:
        streams[1].close()


async def _generate(config: dict[str, Any]) -> LoadResult:
    tally = _Tally()
    started = time.monotonic()
    deadline = started + float(config["duration_s"])
    tasks = [_connection(config, n, deadline, tally) for n in range(int(config["connections"]))]
    await asyncio.wait_for(asyncio.gather(*tasks), float(config["duration_s"]) + REQUEST_TIMEOUT_S + 5)
    elapsed = time.monotonic() - started
    latencies = sorted(tally.latencies_ns) or [0]

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] / 1e6

    return LoadResult(
        requests=len(tally.latencies_ns),
        duration_s=elapsed,
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        non2xx=tally.non2xx,
        socket_errors=tally.socket_errors,
    )


def loadgen_child(raw_config: str) -> None:
    result = asyncio.run(_generate(json.loads(raw_config)))
    print(RESULT_MARK + json.dumps(asdict(result)))


# -------------------------------------------------------------------------------------------- driving


@dataclass(frozen=True, slots=True)
class Generator:
    name: str
    wrk: str | None

    def run(self, spec: LoadSpec, scratch: Path) -> LoadResult:
        if self.wrk is not None:
            return run_wrk(self.wrk, spec, scratch)
        return run_python_generator(spec)


def pick_generator(choice: str) -> Generator:
    wrk = shutil.which("wrk")
    if choice == "wrk" and wrk is None:
        raise SystemExit("--generator wrk: wrk is not installed (apt-get install -y wrk)")
    if choice in ("auto", "wrk") and wrk is not None:
        version = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10, check=False)
        return Generator(f"wrk ({(version.stdout or version.stderr).splitlines()[0].strip()})", wrk)
    reason = "wrk not installed" if wrk is None else "--generator python"
    return Generator(f"python asyncio raw-socket HTTP/1.1 keep-alive client ({reason})", None)


def measure(
    generator: Generator,
    server: RunningServer,
    spec: LoadSpec,
    warmup_s: float,
    database: str,
    scratch: Path,
    concurrency: tuple[int, int],
) -> Measurement:
    if warmup_s > 0:
        generator.run(LoadSpec(spec.port, spec.endpoint, spec.token, spec.connections, warmup_s), scratch)
    cpu_before, generator_before = tree_cpu_seconds(server.pid), children_cpu_seconds()
    machine_before, wall_before = machine_busy_seconds(), time.monotonic()
    result = generator.run(spec, scratch)
    wall = time.monotonic() - wall_before
    cpu_after, machine = tree_cpu_seconds(server.pid), machine_busy_seconds() - machine_before
    by_process = sorted((cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after), reverse=True)
    server_cpu = sum(by_process)
    generator_cpu = children_cpu_seconds() - generator_before
    done = max(result.requests, 1)
    measurement = Measurement(
        database=database,
        endpoint=spec.endpoint.name,
        workers=concurrency[0],
        threads_per_worker=concurrency[1],
        requests=result.requests,
        rps=result.requests / result.duration_s if result.duration_s else 0.0,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        non2xx=result.non2xx,
        socket_errors=result.socket_errors,
        server_cpu_ms_per_request=server_cpu * 1000 / done,
        server_cores_busy=server_cpu / wall,
        generator_cpu_ms_per_request=generator_cpu * 1000 / done,
        other_cores_busy=max(machine - server_cpu - generator_cpu, 0.0) / wall,
    )
    print(
        f"  {database:<8} {spec.endpoint.name:<6} {measurement.rps:9,.0f} req/s  p50 {measurement.p50_ms:6.2f} ms"
        f"  p99 {measurement.p99_ms:6.2f} ms  non-2xx {measurement.non2xx}  socket errors {measurement.socket_errors}"
        f"  server CPU {measurement.server_cpu_ms_per_request:.3f} ms/req ({measurement.server_cores_busy:.2f} cores)",
        flush=True,
    )
    # An uneven split between the worker processes shows connections pinned to one worker.
    print(
        f"           server cores busy by process: {' '.join(f'{cpu / wall:.2f}' for cpu in by_process)};"
        f" load generator {generator_cpu / wall:.2f}; everything else {measurement.other_cores_busy:.2f}"
    )
    return measurement


def bench_database(database: str, args: argparse.Namespace, generator: Generator) -> list[Measurement]:
    with started_server(database, args, "ec-issuer-bench-") as started:
        if started is None:
            return []
        token = register_fixtures(started.server)
        return measure_endpoints(generator, started, database, args, token, (HEALTH, ISSUE))


# -------------------------------------------------------------------------------------------- report


def source_revision() -> str:
    """The commit measured, and whether the work tree differed from it: figures belong to code."""
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    repo = str(Path(__file__).resolve().parent.parent)

    def git_output(*arguments: str) -> bytes:
        return subprocess.run([git, "-C", repo, *arguments], capture_output=True, timeout=30, check=False).stdout

    commit = git_output("rev-parse", "--short", "HEAD").decode().strip()
    diff = git_output("diff", "HEAD", "--", "src")
    if not diff:
        return commit or "unknown"
    return f"{commit} + uncommitted changes in src/ (diff sha256 {hashlib.sha256(diff).hexdigest()[:12]})"


def _versions() -> str:
    found = []
    for name in ("granian", "gunicorn", "flask", "apiflask", "sqlalchemy", "psycopg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def print_table(results: list[Measurement]) -> None:
    columns = "database endpoint     req/s  p50 ms  p99 ms  non-2xx sock-err  srv CPU ms/req srv cores  gen cores other"
    print("\n" + columns)
    print("-" * len(columns))
    for m in results:
        print(
            f"{m.database:<8} {m.endpoint:<8} {m.rps:9,.0f} {m.p50_ms:7.2f} {m.p99_ms:7.2f} {m.non2xx:8d} "
            f"{m.socket_errors:8d} {m.server_cpu_ms_per_request:15.3f} {m.server_cores_busy:9.2f} "
            f"{m.generator_cpu_ms_per_request * m.rps / 1000:10.2f} {m.other_cores_busy:5.2f}"
        )
    print("(cores: average CPUs busy in the timed window; other = neither server nor generator, e.g. PostgreSQL)")
    print()
    for database in dict.fromkeys(m.database for m in results):
        by_endpoint = {m.endpoint: m for m in results if m.database == database}
        issue, health = by_endpoint.get("issue"), by_endpoint.get("health")
        if issue is None or health is None or not health.rps or not health.server_cpu_ms_per_request:
            continue
        met = issue.rps >= TARGET_RPS and issue.p99_ms < TARGET_P99_MS and issue.non2xx == 0
        print(
            f"{database:<8} ({issue.workers} workers x {issue.threads_per_worker} threads) issue/health: "
            f"req/s {issue.rps / health.rps:.3f}, "
            f"server CPU per request {issue.server_cpu_ms_per_request / health.server_cpu_ms_per_request:.1f}x"
            f"  | target >= {TARGET_RPS:,.0f} credentials/s with p99 < {TARGET_P99_MS:.0f} ms: "
            f"{'MET' if met else 'NOT MET'} ({issue.rps:,.0f}/s, p99 {issue.p99_ms:.1f} ms)"
        )


def _database_url_kind(database: str, args: argparse.Namespace) -> str:
    """A URL of the database's kind, enough for the service's thread default (only the scheme matters)."""
    return "sqlite:///ec-issuer.db" if database == "sqlite" else str(args.postgres_url)


def _threads_summary(args: argparse.Namespace) -> str:
    if args.server != "granian":
        return "1 (gunicorn sync workers)"
    source = "--threads (SERVER_THREADS)" if args.threads is not None else "the service's default by database"
    counts = ", ".join(
        f"{database} {server_threads(_database_url_kind(database, args), args.threads)}" for database in args.databases
    )
    return f"{counts} ({source})"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="timed window per endpoint, s (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed warm-up per endpoint, s (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (16)")
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument(
        "--threads",
        type=int,
        help="granian blocking threads per worker, as SERVER_THREADS (default: the service's, 1 SQLite, 4 PostgreSQL)",
    )
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="administrative PostgreSQL URL; a throw-away database is created on it and dropped",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgres"}:
        parser.error("--databases takes sqlite and/or postgres")
    if not 0 < args.duration <= 300 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be in (0, 300] and --warmup in [0, 60]")
    if not 1 <= args.connections <= 256 or not 1 <= args.workers <= 16 or not 1 <= (args.threads or 1) <= 64:
        parser.error("--connections must be 1..256, --workers 1..16 and --threads 1..64")
    if args.threads is not None and args.server != "granian":
        parser.error("--threads applies to granian only (gunicorn runs sync workers, one request at a time)")
    args.databases = databases
    return args


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--loadgen-child":
        loadgen_child(sys.argv[2])
        return
    args = parse_arguments()
    generator = pick_generator(args.generator)
    print(f"ec-issuer issuing benchmark: {args.server} x{args.workers} workers, {args.connections} connections,")
    print(f"  threads per worker: {_threads_summary(args)}")
    print(f"  {args.warmup:g} s warm-up + {args.duration:g} s per endpoint, databases {', '.join(args.databases)}")
    print(f"  load generator: {generator.name}")
    print(f"  source: {source_revision()}")
    print(f"  python {platform.python_version()}, {_versions()}")
    print(f"  {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results: list[Measurement] = []
    for database in args.databases:
        results.extend(bench_database(database, args, generator))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
