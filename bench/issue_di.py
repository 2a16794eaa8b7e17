"""Benchmark Data Integrity issuing and verifying next to VC-JOSE, over HTTP and in process.

Over HTTP, per database (SQLite by default), the script starts the service in production mode exactly as
bench/issue_jose.py does (its `running_server`, fixtures, CPU accounting and table are reused), adds an EdDSA
key to issuer `bench`, then drives with wrk, each for a fixed time after a warm-up:

- `GET /health` (the machine's baseline);
- `POST /api/v1/credentials` with the award body as VC-JOSE (no `format`: vc+jwt, ES256), as Data Integrity
  with the EdDSA key (`"format": "data-integrity"`: eddsa-rdfc-2022) and with `"algorithm": "ES256"`
  (ecdsa-rdfc-2019); every body differs by its recipient;
- `POST /api/v1/credentials/verify` with `{"jws": ...}` and `{"credential": ...}`, cycling through a handful
  of credentials of each kind issued beforehand.

In process (no HTTP, one thread, SQLite) it builds the service like the tests (`bootstrap.build`, via
bench/profile_issue.py's `prepare`) and times `container.issuing.issue(...)` for the three formats and
`container.verifier.verify(...)` / `verify_document(...)` in a loop for a fixed time.

It prints the rates, the DI / VC-JOSE ratios (what to compare between runs on a noisy 2-core machine) and
whether the issue's target holds: >= 300 eddsa-rdfc-2022 credentials/s over HTTP with 2 workers.

    uv run python bench/issue_di.py [--duration 10] [--warmup 2] [--connections 16] [--workers 2]
                                    [--threads N] [--databases sqlite,postgres] [--inprocess-seconds S]
                                    [--skip-http] [--skip-inprocess]

Every request goes to 127.0.0.1; every run is bounded in time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issue_jose import (
    _WRK_VARIED_REQUEST,
    DEFAULT_POSTGRES_URL,
    HEALTH,
    ISSUE,
    ISSUE_BODY,
    ISSUER_SLUG,
    RECIPIENT,
    Endpoint,
    Generator,
    LoadResult,
    LoadSpec,
    Measurement,
    RunningServer,
    call,
    expect,
    measure_endpoints,
    pick_generator,
    print_table,
    register_fixtures,
    run_wrk,
    source_revision,
    started_server,
)
from profile_issue import prepare

from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.keys.model import Algorithm

TARGET_EDDSA_RPS = 300.0
VERIFY_PATH = "/api/v1/credentials/verify"
VERIFY_SAMPLES = 8  # credentials of each kind issued before the verify runs; wrk cycles through them

# The three ways of securing the same award: extra fields of the issuing body.
FORMATS: dict[str, dict[str, str]] = {
    "jose": {},  # vc+jwt, ES256 (the service's default)
    "eddsa": {"format": "data-integrity"},  # eddsa-rdfc-2022 with the issuer's EdDSA key
    "ecdsa": {"format": "data-integrity", "algorithm": "ES256"},  # ecdsa-rdfc-2019
}
CRYPTOSUITES = {"eddsa": "eddsa-rdfc-2022", "ecdsa": "ecdsa-rdfc-2019"}


def issue_body(kind: str, recipient: str) -> dict[str, Any]:
    body = json.loads(json.dumps(ISSUE_BODY).replace(RECIPIENT, recipient))
    body.update(FORMATS[kind])
    return body


# ------------------------------------------------------------------------------------------ over HTTP


def issue_endpoint(kind: str) -> Endpoint:
    return Endpoint(f"i-{kind}", ISSUE.method, ISSUE.path, authorized=True, varied_body=True)


def verify_endpoint(kind: str) -> Endpoint:
    return Endpoint(f"v-{kind}", "POST", VERIFY_PATH, authorized=True, varied_body=True)


_WRK_CYCLING_REQUEST = """
local bodies = {
%(bodies)s
}
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter %% #bodies) + 1])
end
"""


def _long_string(text: str) -> str:
    if "]==]" in text:
        raise SystemExit("a request body holds ']==]', which ends a Lua long string")
    return f"[==[{text}]==]"


@dataclass(frozen=True, slots=True)
class LuaGenerator(Generator):
    """wrk with a request function per endpoint: varied issuing bodies by format, cycling verify bodies.

    issue_jose's own generator knows one varied body (the VC-JOSE award); this one hands issue_jose's
    `run_wrk` the Lua `request` function from `requests`, by endpoint name.
    """

    requests: dict[str, str] = field(default_factory=dict[str, str])

    def run(self, spec: LoadSpec, scratch: Path) -> LoadResult:
        if self.wrk is None or spec.endpoint.name not in self.requests:
            return Generator.run(self, spec, scratch)  # no zero-argument super() in a slots dataclass
        return run_wrk(self.wrk, spec, scratch, self.requests[spec.endpoint.name])


def varied_issue_request(kind: str) -> str:
    prefix, suffix = json.dumps(issue_body(kind, RECIPIENT), separators=(",", ":")).split(RECIPIENT)
    return _WRK_VARIED_REQUEST % {"prefix": prefix, "suffix": suffix}


def cycling_request(bodies: list[dict[str, Any]]) -> str:
    texts = [_long_string(json.dumps(body, separators=(",", ":"))) for body in bodies]
    return _WRK_CYCLING_REQUEST % {"bodies": ",\n".join(texts)}


def cryptosuite(credential: dict[str, Any]) -> object:
    proof: Any = credential.get("proof")
    first: Any = proof[0] if isinstance(proof, list) and proof else proof
    return first.get("cryptosuite") if isinstance(first, dict) else None


def prepare_http(server: RunningServer) -> tuple[str, dict[str, str]]:
    """Fixtures (issuer, ES256 and EdDSA keys, client), sample credentials and the Lua request functions."""
    token = register_fixtures(server)
    key = {"algorithm": "EdDSA"}
    expect(*call(server.port, "POST", f"/api/v1/issuers/{ISSUER_SLUG}/keys", server.admin_token, key), 201, "key")
    requests: dict[str, str] = {}
    for kind in FORMATS:
        requests[f"i-{kind}"] = varied_issue_request(kind)
        bodies: list[dict[str, Any]] = []
        for number in range(VERIFY_SAMPLES):
            answer = call(server.port, "POST", ISSUE.path, token, issue_body(kind, f"sample-{number}"))
            issued = expect(*answer, 201, f"issue a {kind} sample")
            if kind == "jose":
                bodies.append({"jws": issued["jws"]})
                continue
            suite = cryptosuite(issued["credential"])
            if suite != CRYPTOSUITES[kind]:
                raise SystemExit(f"{kind}: expected a {CRYPTOSUITES[kind]} proof, got {suite}")
            bodies.append({"credential": issued["credential"]})
        verified = expect(*call(server.port, "POST", VERIFY_PATH, token, bodies[0]), 200, f"verify a {kind} sample")
        if verified.get("verified") is not True:
            raise SystemExit(f"{kind}: the sample does not verify: {verified}")
        requests[f"v-{kind}"] = cycling_request(bodies)
    return token, requests


def bench_http(database: str, args: argparse.Namespace, wrk: str) -> list[Measurement]:
    with started_server(database, args, "ec-issuer-bench-di-") as started:
        if started is None:
            return []
        token, requests = prepare_http(started.server)
        generator = LuaGenerator(pick_generator("wrk").name, wrk, requests)
        endpoints = [HEALTH, *(issue_endpoint(k) for k in FORMATS), *(verify_endpoint(k) for k in FORMATS)]
        return measure_endpoints(generator, started, database, args, token, endpoints)


def print_http_ratios(results: list[Measurement], workers: int) -> None:
    for database in dict.fromkeys(m.database for m in results):
        by_name = {m.endpoint: m for m in results if m.database == database}
        for action in ("i", "v"):
            jose = by_name[f"{action}-jose"]
            for kind in ("eddsa", "ecdsa"):
                di = by_name[f"{action}-{kind}"]
                print(
                    f"{database:<8} {'issue ' if action == 'i' else 'verify'} {CRYPTOSUITES[kind]:<15} / VC-JOSE: "
                    f"req/s {di.rps / jose.rps if jose.rps else 0:.3f}, server CPU per request "
                    f"{di.server_cpu_ms_per_request / jose.server_cpu_ms_per_request if jose.requests else 0:.2f}x"
                )
        eddsa = by_name["i-eddsa"]
        met = eddsa.rps >= TARGET_EDDSA_RPS and eddsa.non2xx == 0 and eddsa.socket_errors == 0
        note = "" if workers == 2 else f" (measured with {workers} workers, the target is for 2)"
        print(
            f"{database:<8} target >= {TARGET_EDDSA_RPS:,.0f} eddsa-rdfc-2022 credentials/s over HTTP with 2 workers: "
            f"{'MET' if met else 'NOT MET'} ({eddsa.rps:,.0f}/s, p99 {eddsa.p99_ms:.1f} ms, "
            f"{eddsa.non2xx} non-2xx){note}"
        )


# ----------------------------------------------------------------------------------------- in process


@dataclass(frozen=True, slots=True)
class Rate:
    name: str
    operations: int
    wall_s: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.operations / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / self.operations if self.operations else 0.0


def timed(name: str, action: Callable[[int], object], seconds: float) -> Rate:
    """Run `action(n)` for about `seconds` after a short warm-up; wall and process CPU time."""
    for number in range(5):
        action(-number - 1)
    operations = 0
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    deadline = wall_start + seconds
    while time.perf_counter() < deadline:
        action(operations)
        operations += 1
    rate = Rate(name, operations, time.perf_counter() - wall_start, time.process_time() - cpu_start)
    print(f"  in process {name:<15} {rate.per_second:9,.1f} /s  {rate.cpu_ms:7.3f} ms CPU per operation", flush=True)
    return rate


def bench_inprocess(seconds: float) -> list[Rate]:
    with tempfile.TemporaryDirectory(prefix="ec-issuer-bench-di-") as raw_dir:
        data_dir = Path(raw_dir)
        container, token = prepare(f"sqlite:///{data_dir / 'ec-issuer.db'}", data_dir)
        issuer = container.issuers.get(ISSUER_SLUG)
        assert issuer is not None
        container.keys.generate(issuer, Algorithm.EDDSA)
        client = container.access.authenticate(token)
        print("[in process] sqlite, one thread", flush=True)
        rates: list[Rate] = []
        samples: dict[str, list[str]] = {}
        for kind in FORMATS:

            def issue(number: int, kind: str = kind) -> str:
                request = parse_issue_request(issue_body(kind, f"inproc-{number}"))
                return container.issuing.issue(client, request).credential.signed

            samples[kind] = [issue(-100 - n) for n in range(VERIFY_SAMPLES)]
            rates.append(timed(f"issue {kind}", issue, seconds))
        for kind in FORMATS:
            tokens = samples[kind]
            documents = [json.loads(signed) for signed in tokens] if kind != "jose" else []

            def verify(
                number: int, kind: str = kind, tokens: list[str] = tokens, documents: list[Any] = documents
            ) -> None:
                if kind == "jose":
                    outcome = container.verifier.verify(tokens[number % len(tokens)])
                else:
                    outcome = container.verifier.verify_document(documents[number % len(documents)])
                if not outcome.verified:
                    raise SystemExit(f"{kind}: a sample does not verify: {outcome.errors}")

            rates.append(timed(f"verify {kind}", verify, seconds))
        container.engine.dispose()
        return rates


def print_inprocess(rates: list[Rate]) -> None:
    print("\nin process (sqlite, one thread)   ops/s   ms/op (wall)  ms CPU/op")
    by_name = {r.name: r for r in rates}
    for rate in rates:
        wall_ms = 1000 / rate.per_second if rate.per_second else 0.0
        print(f"  {rate.name:<28} {rate.per_second:9,.1f} {wall_ms:12.3f} {rate.cpu_ms:10.3f}")
    for action in ("issue", "verify"):
        jose = by_name[f"{action} jose"]
        for kind in ("eddsa", "ecdsa"):
            di = by_name[f"{action} {kind}"]
            print(
                f"  {action:<6} {CRYPTOSUITES[kind]:<15} / VC-JOSE: ops/s {di.per_second / jose.per_second:.3f}, "
                f"CPU per operation {di.cpu_ms / jose.cpu_ms:.2f}x"
            )


# ------------------------------------------------------------------------------------------------ main


def add_wrk_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a wrk run against granian in production mode, shared with validation_credentials.py."""
    parser.add_argument("--duration", type=float, default=10.0, help="timed window per endpoint, s (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed warm-up per endpoint, s (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (16)")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--threads", type=int, help="granian blocking threads per worker, as SERVER_THREADS")
    parser.add_argument("--databases", default="sqlite", help="comma-separated: sqlite,postgres (default sqlite)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="administrative PostgreSQL URL; a throw-away database is created on it and dropped",
    )


def check_wrk_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what `add_wrk_arguments` cannot run, and turn `databases` into a list."""
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgres"}:
        parser.error("--databases takes sqlite and/or postgres")
    if not 0 < args.duration <= 300 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be in (0, 300] and --warmup in [0, 60]")
    if not float(args.duration).is_integer() or not float(args.warmup).is_integer():
        parser.error("--duration and --warmup take whole seconds (wrk's -d does not take fractions)")
    if not 1 <= args.connections <= 256 or not 1 <= args.workers <= 16 or not 1 <= (args.threads or 1) <= 64:
        parser.error("--connections must be 1..256, --workers 1..16 and --threads 1..64")
    args.databases = databases
    args.server = "granian"  # running_server reads it; these benchmarks run the production server only


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_wrk_arguments(parser)
    parser.add_argument(
        "--inprocess-seconds", type=float, help="timed loop per in-process operation, s (default: --duration)"
    )
    parser.add_argument("--skip-http", action="store_true", help="only the in-process loops")
    parser.add_argument("--skip-inprocess", action="store_true", help="only the HTTP runs")
    args = parser.parse_args()
    check_wrk_arguments(parser, args)
    args.inprocess_seconds = args.inprocess_seconds or args.duration
    if not 0 < args.inprocess_seconds <= 300:
        parser.error("--inprocess-seconds must be in (0, 300]")
    return args


def main() -> None:
    args = parse_arguments()
    wrk = shutil.which("wrk")
    if wrk is None and not args.skip_http:
        raise SystemExit("wrk is not installed (apt-get install -y wrk); or run with --skip-http")
    print(f"ec-issuer Data Integrity vs VC-JOSE benchmark: granian x{args.workers} workers, {args.connections} conns")
    print(f"  {args.warmup:g} s warm-up + {args.duration:g} s per endpoint, databases {', '.join(args.databases)}")
    if wrk is not None:
        print(f"  load generator: {pick_generator('wrk').name}")
    print(f"  source: {source_revision()}")
    print(f"  python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results: list[Measurement] = []
    if not args.skip_http and wrk is not None:
        for database in args.databases:
            results.extend(bench_http(database, args, wrk))
    rates = [] if args.skip_inprocess else bench_inprocess(args.inprocess_seconds)
    if results:
        print_table(results)
        print("(i- = POST /api/v1/credentials, v- = POST /api/v1/credentials/verify; jose = vc+jwt ES256,")
        print(" eddsa = data-integrity eddsa-rdfc-2022, ecdsa = data-integrity ecdsa-rdfc-2019)")
        print_http_ratios(results, args.workers)
    if rates:
        print_inprocess(rates)


if __name__ == "__main__":
    main()
