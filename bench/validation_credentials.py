"""Benchmark ValidationCredentials over HTTP: issuing new ones, answering idempotent replays, verifying.

Per database (SQLite by default), the service is started in production mode exactly as bench/issue_jose.py
does it (its `running_server`, fixtures, CPU accounting, table and wrk driver are reused, and issue_di.py's
wrk request functions); then, each with a warm-up and a timed wrk run:

- `health`: `GET /health`, the machine's baseline;
- `new`: `POST /api/v1/validation-credentials` for a run that PASSED, every request a new (run, step run), so
  every answer is a new credential (201): vc+jwt, ES256, three status list entries;
- `replay`: the same endpoint cycling through bodies already issued, so every answer is a replay (200);
- `verify`: `POST /api/v1/credentials/verify` with `{"jws": ...}`, cycling through those credentials.

It prints the rates and whether the targets hold: >= 1,500 new credentials/s and >= 3,000 replays/s.

    uv run python bench/validation_credentials.py [--duration 10] [--warmup 2] [--connections 16] [--workers 2]
                                                  [--threads N] [--databases sqlite,postgres]

Every request goes to 127.0.0.1; every run is bounded in time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from issue_di import LuaGenerator, add_wrk_arguments, check_wrk_arguments, cycling_request
from issue_jose import (
    _WRK_VARIED_REQUEST,
    HEALTH,
    ISSUER_SLUG,
    Endpoint,
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

ISSUE_PATH = "/api/v1/validation-credentials"
VERIFY_PATH = "/api/v1/credentials/verify"
NEW = Endpoint("new", "POST", ISSUE_PATH, authorized=True, varied_body=True)
REPLAY = Endpoint("replay", "POST", ISSUE_PATH, authorized=True, varied_body=True)
VERIFY = Endpoint("verify", "POST", VERIFY_PATH, authorized=True, varied_body=True)
TARGETS = {"new": 1500.0, "replay": 3000.0}
SAMPLES = 8  # credentials issued before the replay and verify runs; wrk cycles through them
RUN_ID = "@RUN@"  # replaced per request in the `new` runs


def validation_body(run_id: str) -> dict[str, Any]:
    return {
        "issuer": ISSUER_SLUG,
        "organization": {"id": "org-bench"},
        "project": {"id": "prj-bench"},
        "submission": {"id": "sub-bench", "resource": {"sha256": "ab" * 32, "mediaType": "application/xml"}},
        "run": {
            "id": run_id,
            "status": "PASSED",
            "completedAt": "2026-01-01T00:00:00Z",
            "workflow": {"id": "wf-1", "slug": "energy-model-check", "version": "3.1.0"},
            "validators": [
                {"code": "idf-schema", "version": "24.1", "validationType": "SCHEMA"},
                {"code": "ashrae-901", "version": "2019.2", "validationType": "RULES"},
            ],
        },
        "stepRun": {"id": "step-1"},
        "action": {"id": "act-1", "issueOnWarnings": False},
    }


@dataclass(frozen=True, slots=True)
class FreshRunsGenerator(LuaGenerator):
    """issue_di's wrk driver, with `new` bodies that no earlier wrk run has sent: each run (the warm-up and
    the timed one) gets its own salt in the run id, else the timed run would replay the warm-up's runs."""

    def run(self, spec: LoadSpec, scratch: Path) -> LoadResult:
        if spec.endpoint is NEW and self.wrk is not None:
            return run_wrk(self.wrk, spec, scratch, new_runs_request(secrets.token_hex(4)))
        return LuaGenerator.run(self, spec, scratch)  # no zero-argument super() in a slots dataclass


def new_runs_request(salt: str) -> str:
    text = json.dumps(validation_body(f"run-{salt}-{RUN_ID}"), separators=(",", ":"))
    prefix, suffix = text.split(RUN_ID)
    return _WRK_VARIED_REQUEST % {"prefix": prefix, "suffix": suffix}


def prepare_http(server: RunningServer) -> tuple[str, dict[str, str]]:
    """Fixtures, the sample credentials (each checked: issued, replayed, verified) and the wrk requests."""
    token = register_fixtures(server)
    bodies = [validation_body(f"sample-{number}") for number in range(SAMPLES)]
    jws: list[dict[str, Any]] = []
    for body in bodies:
        issued = expect(*call(server.port, "POST", ISSUE_PATH, token, body), 201, "issue a sample")
        again = expect(*call(server.port, "POST", ISSUE_PATH, token, body), 200, "replay a sample")
        if again.get("jws") != issued["jws"] or again.get("replayed") is not True:
            raise SystemExit(f"the replay differs from the first answer: {again}")
        jws.append({"jws": issued["jws"]})
    verified = expect(*call(server.port, "POST", VERIFY_PATH, token, jws[0]), 200, "verify a sample")
    if verified.get("verified") is not True:
        raise SystemExit(f"the sample does not verify: {verified}")
    return token, {"replay": cycling_request(bodies), "verify": cycling_request(jws)}


def bench_http(database: str, args: argparse.Namespace, wrk: str) -> list[Measurement]:
    with started_server(database, args, "ec-issuer-bench-validation-") as started:
        if started is None:
            return []
        token, requests = prepare_http(started.server)
        generator = FreshRunsGenerator(pick_generator("wrk").name, wrk, requests)
        return measure_endpoints(generator, started, database, args, token, (HEALTH, NEW, REPLAY, VERIFY))


def print_targets(results: list[Measurement]) -> None:
    for database in dict.fromkeys(m.database for m in results):
        by_name = {m.endpoint: m for m in results if m.database == database}
        health = by_name["health"]
        for name, target in TARGETS.items():
            row = by_name[name]
            met = row.rps >= target and row.non2xx == 0 and row.socket_errors == 0
            print(
                f"{database:<8} {name:<6} target >= {target:,.0f}/s: {'MET' if met else 'NOT MET'} "
                f"({row.rps:,.0f}/s, p99 {row.p99_ms:.1f} ms, {row.non2xx} non-2xx; "
                f"{row.rps / health.rps if health.rps else 0:.3f} of /health, "
                f"server CPU {row.server_cpu_ms_per_request:.3f} ms/request)"
            )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_wrk_arguments(parser)
    args = parser.parse_args()
    check_wrk_arguments(parser, args)
    return args


def main() -> None:
    args = parse_arguments()
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    print(f"ec-issuer ValidationCredential benchmark: granian x{args.workers} workers, {args.connections} connections")
    print(f"  {args.warmup:g} s warm-up + {args.duration:g} s per endpoint, databases {', '.join(args.databases)}")
    print(f"  load generator: {pick_generator('wrk').name}")
    print(f"  source: {source_revision()}")
    print(f"  python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results: list[Measurement] = []
    for database in args.databases:
        results.extend(bench_http(database, args, wrk))
    print_table(results)
    print("(new = POST /api/v1/validation-credentials, a new run each time; replay = the same for runs issued")
    print(" already; verify = POST /api/v1/credentials/verify with the JWS)")
    print_targets(results)


if __name__ == "__main__":
    main()
