"""Benchmark status lists: encoding and signing them in process, revoking and serving them over HTTP.

1. **In process** (no HTTP, one thread): for lists of 131,072 and 1,048,576 entries with 1 % of the entries
   set at random, the median and p95 wall time of GZIP-encoding the bitstring (level 6 and level 9), of
   building the BitstringStatusListCredential and signing it as vc+jwt (ES256), of the same plus a Data
   Integrity proof (eddsa-rdfc-2022), of the Token Status List (2 bits: ZLIB level 6 and 9 alone, then
   claims + statuslist+jwt) and of `StatusListPublisher.sign` as the server calls it. Keys are the project's
   own: a container from `bootstrap.build` on a temporary SQLite file (bench/profile_issue.py's `prepare`),
   local key custody, an ES256 and an EdDSA key.
2. **Revocations/s over HTTP**, per database (SQLite by default), against the production server that
   bench/issue_jose.py starts (`running_server`: `ec-issuer serve --workers N`, granian): issue N credentials
   over the API, then revoke each once (`POST /api/v1/credentials/<id>/revoke`) from K keep-alive
   connections of a Python asyncio raw-socket client that hands every id to exactly one request.
3. **Revoke -> visible**: revoke one credential, then poll its list (`Accept: application/json`) and decode
   `encodedList` until its bit is set. The server signs a changed list on the first GET after the change, so
   this includes publishing.
4. **List GETs** with wrk (bench/issue_jose.py's `measure`): `GET /health` as the baseline, the cached list
   credential, and conditional GETs (`If-None-Match`) answered 304.

    uv run python bench/status.py [--reps 300] [--row-seconds 2] [--credentials 3000] [--connections 16]
                                  [--workers 2] [--threads N] [--duration 10] [--warmup 2]
                                  [--databases sqlite,postgres] [--postgres-url URL]
                                  [--skip-inprocess] [--skip-http]

Every request goes to 127.0.0.1; every run is bounded in time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import json
import math
import os
import platform
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from issue_di import LuaGenerator
from issue_jose import (
    DEFAULT_POSTGRES_URL,
    HEALTH,
    HOST,
    ISSUE,
    ISSUE_BODY,
    ISSUER_SLUG,
    RECIPIENT,
    REQUEST_TIMEOUT_S,
    Endpoint,
    Measurement,
    RunningServer,
    StartedServer,
    _read_response,  # the fallback generator's HTTP/1.1 response reader
    call,
    expect,
    measure_endpoints,
    pick_generator,
    print_table,
    register_fixtures,
    source_revision,
    started_server,
    tree_cpu_seconds,
)
from profile_issue import prepare

from ec_issuer.bootstrap import Container
from ec_issuer.core.encoding import dumps
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.model import Algorithm, KeyState, SigningKey
from ec_issuer.keys.ports import KeyCustody
from ec_issuer.signing.data_integrity.signer import add_proof
from ec_issuer.signing.jose import sign_compact, sign_vc_jwt
from ec_issuer.status.bitstring import BitstringStatusList, encode_list
from ec_issuer.status.lists import StatusListKind, StatusListRecord, StatusListUrls
from ec_issuer.status.publication import (
    STATUS_LIST_JWT_TYP,
    TOKEN_LIST_ZLIB_LEVEL,
    ListContents,
    PublishedList,
    bitstring_list_credential,
    token_list_claims,
)
from ec_issuer.status.token_status_list import TokenStatus, TokenStatusList, encode_lst
from ec_issuer.storage.cache import ReadCache
from ec_issuer.storage.unit_of_work import SqlUnitOfWork

SIZES = (131_072, 1_048_576)
SET_FRACTION = 0.01
TARGET_MS = {131_072: 2.0, 1_048_576: 10.0}  # the issue: encode + sign < 2 ms for 131k entries, < 10 ms for 1M
TTL_SECONDS = 300
MIN_REPS = 30
WARMUP_REVOCATIONS = 200
VISIBILITY_SAMPLES = 50
VISIBLE_TIMEOUT_S = 10.0
REVOKE_BODY = json.dumps({"reasonCode": "superseded", "reason": "status benchmark"}, separators=(",", ":"))
JSON_ACCEPT = {"Accept": "application/json"}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def verdict(value: float, limit: float) -> str:
    return "MET" if value < limit else "NOT MET"


# ----------------------------------------------------------------------------------------- in process


@dataclass(frozen=True, slots=True)
class Timing:
    key: str
    label: str
    samples_ms: list[float]
    cpu_ms: list[float]  # process CPU time of each call: less disturbed than wall time by other tenants
    output: str  # the size of what one call produced
    chars: int = 0  # the length of the encoded list, for the encoding rows

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)


def time_calls(action: Callable[[], object], reps: int, max_seconds: float) -> tuple[list[float], list[float]]:
    """Wall and CPU ms of each call, after 2 untimed ones: `reps` calls, or fewer (but MIN_REPS) after
    max_seconds."""
    for _ in range(2):
        action()
    gc.collect()
    wall: list[float] = []
    cpu: list[float] = []
    deadline = time.perf_counter() + max_seconds
    while len(wall) < reps and (len(wall) < MIN_REPS or time.perf_counter() < deadline):
        started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
        action()
        cpu.append((time.process_time_ns() - cpu_started) / 1e6)
        wall.append((time.perf_counter_ns() - started) / 1e6)
    return wall, cpu


@dataclass(frozen=True, slots=True)
class SigningSetup:
    """The service built as the tests build it, with an ES256 and an EdDSA key under local custody."""

    container: Container
    issuer: Issuer
    es256: SigningKey
    eddsa: SigningKey
    cache: ReadCache

    def custody(self, key: SigningKey) -> KeyCustody:
        return self.container.keys.custody(key.custody)

    def uow(self) -> SqlUnitOfWork:
        """A unit of work on the read cache, as the server's are."""
        return SqlUnitOfWork(self.container.engine, self.cache)


@contextlib.contextmanager
def signing_setup() -> Iterator[SigningSetup]:
    with tempfile.TemporaryDirectory(prefix="ec-issuer-bench-status-") as raw_dir:
        data_dir = Path(raw_dir)
        container, _ = prepare(f"sqlite:///{data_dir / 'ec-issuer.db'}", data_dir)  # issuer + ES256 key
        issuer = container.issuers.get(ISSUER_SLUG)
        assert issuer is not None
        container.keys.generate(issuer, Algorithm.EDDSA)
        active = {k.algorithm: k for k in container.keys.for_issuer(ISSUER_SLUG) if k.state is KeyState.ACTIVE}
        cache = ReadCache(container.settings.cache_ttl_seconds)
        try:
            yield SigningSetup(container, issuer, active[Algorithm.ES256], active[Algorithm.EDDSA], cache)
        finally:
            container.engine.dispose()


def bench_size(setup: SigningSetup, size: int, rng: random.Random, reps: int, seconds: float) -> list[Timing]:
    """Every in-process row for one list size; 1 % of the entries set (revoked), at random indices."""
    indices = sorted(rng.sample(range(size), round(size * SET_FRACTION)))
    reported = [(index, 1) for index in indices]  # (index, value), as the repository reports them
    token_reported = [(index, int(TokenStatus.INVALID)) for index in indices]
    bits = BitstringStatusList(size)
    tokens = TokenStatusList(size, bits=StatusListKind.TOKEN.bits_per_entry)
    for index in indices:
        bits.set(index)
        tokens.set(index, TokenStatus.INVALID)
    raw_bits, raw_tokens = bits.to_bytes(), tokens.to_bytes()
    urls = StatusListUrls(setup.container.settings.issuer_base_url)
    bitstring_id = StatusListUrls.list_id(ISSUER_SLUG, StatusListKind.REVOCATION, 1)
    token_id = StatusListUrls.list_id(ISSUER_SLUG, StatusListKind.TOKEN, 1)
    now = setup.container.clock.now()
    es256, eddsa = setup.es256, setup.eddsa
    es256_custody, eddsa_custody = setup.custody(es256), setup.custody(eddsa)
    publisher = setup.container.status_lists

    def bits_from_pairs() -> BitstringStatusList:
        fresh = BitstringStatusList(size)
        for index, value in reported:
            fresh.set(index, bool(value))
        return fresh

    def list_credential() -> dict[str, Any]:
        kind = StatusListKind.REVOCATION
        return bitstring_list_credential(setup.issuer, urls.url(bitstring_id), kind, size, reported, now, TTL_SECONDS)

    def vc_jwt() -> str:
        return sign_vc_jwt(dumps(list_credential()), es256, es256_custody)

    def vc_jwt_and_proof() -> tuple[str, str]:
        credential = list_credential()
        jwt = sign_vc_jwt(dumps(credential), es256, es256_custody)
        return jwt, dumps(add_proof(credential, eddsa, eddsa_custody, created=now)).decode()

    def status_list_token() -> str:
        claims = token_list_claims(setup.issuer, urls.url(token_id), size, token_reported, now, TTL_SECONDS)
        return sign_compact(dumps(claims), es256, es256_custody, typ=STATUS_LIST_JWT_TYP)

    def publish(kind: StatusListKind, list_id: str, pairs: list[tuple[int, int]]) -> Callable[[], PublishedList]:
        record = StatusListRecord(list_id, ISSUER_SLUG, kind, 1, size, revision=1)

        def sign() -> PublishedList:
            with setup.uow() as uow:
                return publisher.sign(uow, setup.issuer, ListContents(record, pairs), now)

        return sign

    # One call of each, for the output sizes and to check that the server's path does what the rows claim.
    jwt, document = vc_jwt_and_proof()
    published = publish(StatusListKind.REVOCATION, bitstring_id, reported)()
    proof = json.loads(document)["proof"][0]
    published_proof = json.loads(published.document or "{}").get("proof", [{}])[0]
    assert proof["cryptosuite"] == published_proof.get("cryptosuite") == "eddsa-rdfc-2022", (proof, published_proof)
    decoded = BitstringStatusList.decode(json.loads(document)["credentialSubject"]["encodedList"])
    assert decoded.to_bytes() == raw_bits, "the list credential does not carry the bits set"
    token = status_list_token()
    gzip6, gzip9 = encode_list(raw_bits, level=6), encode_list(raw_bits, level=9)
    zlib6, zlib9 = encode_lst(raw_tokens, level=6), encode_lst(raw_tokens, level=9)

    rows: list[tuple[str, str, Callable[[], object], str]] = [
        ("gzip6", "(a) gzip level 6 of the bitstring -> encodedList", lambda: encode_list(raw_bits, level=6),
         f"{len(gzip6):,} chars"),
        ("gzip9", "(a) gzip level 9 of the bitstring -> encodedList", lambda: encode_list(raw_bits, level=9),
         f"{len(gzip9):,} chars"),
        ("pairs", "    bits set from the (index, value) pairs alone", bits_from_pairs,
         f"{len(reported):,} pairs"),
        ("jose", "(b) pairs + gzip 6 + list credential + vc+jwt ES256", vc_jwt, f"jwt {len(jwt):,} chars"),
        ("di", "(c) (b) + Data Integrity proof eddsa-rdfc-2022", vc_jwt_and_proof,
         f"+ document {len(document):,} chars"),
        ("pub-bits", "    StatusListPublisher.sign, bitstring (c + key lookups)",
         publish(StatusListKind.REVOCATION, bitstring_id, reported), "the server's call"),
        ("zlib6", "(d) zlib level 6 of the 2-bit token list -> lst", lambda: encode_lst(raw_tokens, level=6),
         f"{len(zlib6):,} chars"),
        ("zlib9", "(d) zlib level 9 of the 2-bit token list -> lst", lambda: encode_lst(raw_tokens, level=9),
         f"{len(zlib9):,} chars"),
        ("token", f"(d) pairs + zlib {TOKEN_LIST_ZLIB_LEVEL} + claims + statuslist+jwt ES256", status_list_token,
         f"jwt {len(token):,} chars"),
        ("pub-token", "    StatusListPublisher.sign, token (d + key lookups)",
         publish(StatusListKind.TOKEN, token_id, token_reported), "the server's call"),
    ]  # fmt: skip
    lengths = {"gzip6": len(gzip6), "gzip9": len(gzip9), "zlib6": len(zlib6), "zlib9": len(zlib9)}
    timings = []
    for key, label, action, output in rows:
        wall, cpu = time_calls(action, reps, seconds)
        timing = Timing(key, label, wall, cpu, output, lengths.get(key, 0))
        print(
            f"  {size:>9,} {label:<58} median {timing.median:8.3f} ms  p95 {timing.p95:8.3f} ms"
            f"  (CPU median {percentile(cpu, 50):8.3f} ms)  n={len(wall):<4} {output}",
            flush=True,
        )
        timings.append(timing)
    return timings


def print_inprocess_summary(results: dict[int, list[Timing]]) -> None:
    print("\nin process: ratios (medians)")
    for size, timings in results.items():
        by = {t.key: t for t in timings}
        print(
            f"  {size:>9,} level 9 / level 6: gzip (bitstring) time {by['gzip9'].median / by['gzip6'].median:.2f}x, "
            f"output {by['gzip9'].chars / by['gzip6'].chars:.3f}x | zlib (token list) time "
            f"{by['zlib9'].median / by['zlib6'].median:.2f}x, output {by['zlib9'].chars / by['zlib6'].chars:.3f}x"
        )
        print(
            f"  {size:>9,} (c) vc+jwt + DI proof / (b) vc+jwt alone: {by['di'].median / by['jose'].median:.2f}x"
            f" | pairs -> bits as a share of (b): {by['pairs'].median / by['jose'].median:.0%}"
            f" | StatusListPublisher.sign / (c): {by['pub-bits'].median / by['di'].median:.2f}x,"
            f" token / (d): {by['pub-token'].median / by['token'].median:.2f}x"
        )
    if len(results) == 2:
        small, large = (results[size] for size in SIZES)
        ratios = ", ".join(
            f"{_TARGET_ROWS[s.key][:3]} {b.median / s.median:.1f}x"
            for s, b in zip(small, large, strict=True)
            if s.key in _TARGET_ROWS
        )
        print(f"  {SIZES[1]:,} / {SIZES[0]:,} entries (8x the entries): {ratios}")
    print("\nin process: the issue's target, encode + sign < 2 ms for 131,072 entries and < 10 ms for 1,048,576")
    for size, timings in results.items():
        limit = TARGET_MS.get(size)
        if limit is None:
            continue
        for timing in timings:
            if timing.key in _TARGET_ROWS:
                print(
                    f"  {size:>9,} {_TARGET_ROWS[timing.key]:<40} < {limit:g} ms: median {timing.median:7.3f} ms "
                    f"{verdict(timing.median, limit):<7}  p95 {timing.p95:7.3f} ms {verdict(timing.p95, limit):<7}"
                    f"  (CPU median {percentile(timing.cpu_ms, 50):.3f} ms)"
                )


_TARGET_ROWS = {
    "jose": "(b) bitstring, vc+jwt",
    "di": "(c) bitstring, vc+jwt + eddsa-rdfc-2022",
    "token": "(d) token list, statuslist+jwt",
}


def bench_inprocess(args: argparse.Namespace) -> dict[int, list[Timing]]:
    rng = random.Random(args.seed)  # noqa: S311 - which bits are set, not a secret
    print(
        f"\n[in process] one thread, {SET_FRACTION:.0%} of the entries set at random, up to {args.reps} calls per row"
        f" (at least {MIN_REPS}, fewer after {args.row_seconds:g} s); wall ms per call, and the process CPU ms",
        flush=True,
    )
    with signing_setup() as setup:
        results = {size: bench_size(setup, size, rng, args.reps, args.row_seconds) for size in SIZES}
    print(f"  (load average after the in-process rows: {os.getloadavg()[0]:.2f})", flush=True)
    return results


# ------------------------------------------------------------------------------------------ over HTTP


@dataclass(frozen=True, slots=True)
class Issued:
    id: str
    list_path: str  # of its revocation list
    index: int


class KeepAliveClients:
    """One keep-alive HTTP/1.1 connection per thread, for the set-up requests (not measured)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._local = threading.local()

    def request(self, method: str, path: str, headers: dict[str, str], body: str | None = None) -> tuple[int, bytes]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(HOST, self._port, timeout=30)
            self._local.connection = connection
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            self._local.connection = None
            raise


def issue_credentials(port: int, token: str, count: int, connections: int) -> list[Issued]:
    """Issue `count` credentials over the API (vc+jwt, the issue_jose award body) from a thread pool."""
    clients = KeepAliveClients(port)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    template = json.dumps(ISSUE_BODY, separators=(",", ":"))

    def issue(number: int) -> Issued:
        status, raw = clients.request("POST", ISSUE.path, headers, template.replace(RECIPIENT, f"status-{number}"))
        answer = json.loads(raw)
        expect(status, answer, 201, "issue a credential")
        entry = answer["credential"]["credentialStatus"]
        entry = next(e for e in entry if e["statusPurpose"] == "revocation") if isinstance(entry, list) else entry
        if entry["statusPurpose"] != "revocation":
            raise SystemExit(f"expected a revocation entry, got {entry}")
        return Issued(answer["id"], urlsplit(entry["statusListCredential"]).path, int(entry["statusListIndex"]))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        issued = list(pool.map(issue, range(count)))
    elapsed = time.perf_counter() - started
    print(
        f"  issued {count:,} credentials over the API in {elapsed:.1f} s ({count / elapsed:,.0f}/s; set-up, "
        f"{connections} threads of http.client, not a measurement)",
        flush=True,
    )
    return issued


def fetch_list(port: int, path: str) -> tuple[BitstringStatusList, str]:
    """The published list credential's bits, and the response's ETag."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path, headers=JSON_ACCEPT)
        response = connection.getresponse()
        raw = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status}: {raw[:300]!r}")
        encoded = json.loads(raw)["credentialSubject"]["encodedList"]
        return BitstringStatusList.decode(encoded), response.headers["ETag"]
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class RevokeRun:
    requests: int
    ok: int
    socket_errors: int
    wall_s: float
    latencies_ms: list[float]
    server_cpu_s: float
    client_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0


async def _revoke_connection(port: int, token: str, ids: Iterator[str], run: dict[str, Any]) -> None:
    """Revoke ids from the shared iterator on one keep-alive connection until none is left."""
    head = (
        f"Host: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(REVOKE_BODY)}\r\n\r\n{REVOKE_BODY}"
    ).encode()
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    for credential_id in ids:  # one iterator for all connections: each id is revoked exactly once
        try:
            if streams is None:
                streams = await asyncio.open_connection(HOST, port)
            reader, writer = streams
            started = time.perf_counter_ns()
            writer.write(f"POST /api/v1/credentials/{credential_id}/revoke HTTP/1.1\r\n".encode() + head)
            status, _, close = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            run["socket_errors"] += 1
            if streams is not None:
                streams[1].close()
            streams = None
            continue
        run["latencies_ms"].append((time.perf_counter_ns() - started) / 1e6)
        run["ok"] += status == 200
        if close:
            writer.close()
            streams = None
    if streams is not None:
        streams[1].close()


def revoke_all(server: RunningServer, token: str, ids: list[str], connections: int) -> RevokeRun:
    run: dict[str, Any] = {"latencies_ms": [], "ok": 0, "socket_errors": 0}
    shared = iter(ids)

    async def drive() -> None:
        await asyncio.gather(*(_revoke_connection(server.port, token, shared, run) for _ in range(connections)))

    cpu_before, client_before = sum(tree_cpu_seconds(server.pid).values()), time.process_time()
    started = time.perf_counter()
    asyncio.run(drive())
    wall = time.perf_counter() - started
    server_cpu = sum(tree_cpu_seconds(server.pid).values()) - cpu_before
    return RevokeRun(
        len(ids), run["ok"], run["socket_errors"], wall, run["latencies_ms"], server_cpu,
        time.process_time() - client_before,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Visibility:
    revoke_ms: list[float]  # sending the revoke to its answer
    visible_ms: list[float]  # sending the revoke to the GET that shows the bit
    polls: list[int]  # GETs until the bit showed

    @property
    def publish_ms(self) -> list[float]:
        return [visible - revoke for visible, revoke in zip(self.visible_ms, self.revoke_ms, strict=True)]


def revoke_to_visible(port: int, token: str, samples: list[Issued]) -> Visibility:
    """Sequentially: revoke one credential, then GET its list until the bit is set; one connection each."""
    revoking = http.client.HTTPConnection(HOST, port, timeout=30)
    reading = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    result = Visibility([], [], [])
    try:
        for item in samples:
            started = time.perf_counter()
            revoking.request("POST", f"/api/v1/credentials/{item.id}/revoke", REVOKE_BODY, headers)
            response = revoking.getresponse()
            expect(response.status, response.read(), 200, "revoke")
            answered = time.perf_counter()
            polls = 0
            while True:
                polls += 1
                reading.request("GET", item.list_path, headers=JSON_ACCEPT)
                response = reading.getresponse()
                raw = response.read()
                if response.status == 200:
                    encoded = json.loads(raw)["credentialSubject"]["encodedList"]
                    if BitstringStatusList.decode(encoded).get(item.index):
                        break
                if time.perf_counter() - started > VISIBLE_TIMEOUT_S:
                    raise SystemExit(f"revoked {item.id}: its bit did not show within {VISIBLE_TIMEOUT_S:g} s")
            seen = time.perf_counter()
            result.revoke_ms.append((answered - started) * 1000)
            result.visible_ms.append((seen - started) * 1000)
            result.polls.append(polls)
    finally:
        revoking.close()
        reading.close()
    return result


@dataclass(frozen=True, slots=True)
class HttpResult:
    database: str
    workers: int
    threads: int
    revocations: RevokeRun
    visibility: Visibility
    gets: list[Measurement]


def bench_http(database: str, args: argparse.Namespace, wrk: str) -> HttpResult | None:
    print()
    with started_server(database, args, "ec-issuer-bench-status-") as started:
        if started is None:
            return None
        return _bench_server(started, database, args, wrk)


def _bench_server(started: StartedServer, database: str, args: argparse.Namespace, wrk: str) -> HttpResult:
    server = started.server
    token = register_fixtures(server)
    eddsa = {"algorithm": "EdDSA"}  # the list's Data Integrity proof is eddsa-rdfc-2022, as in process
    expect(*call(server.port, "POST", f"/api/v1/issuers/{ISSUER_SLUG}/keys", server.admin_token, eddsa), 201, "key")
    total = WARMUP_REVOCATIONS + args.credentials + VISIBILITY_SAMPLES
    issued = issue_credentials(server.port, token, total, args.connections)
    warmup = issued[:WARMUP_REVOCATIONS]
    timed = issued[WARMUP_REVOCATIONS : WARMUP_REVOCATIONS + args.credentials]
    samples = issued[WARMUP_REVOCATIONS + args.credentials :]
    list_paths = {item.list_path for item in issued}
    if len(list_paths) != 1:
        raise SystemExit(f"the credentials landed in {len(list_paths)} revocation lists; use fewer --credentials")
    list_path = list_paths.pop()

    # 2. Revocations/s: a warm-up, then each timed id revoked exactly once.
    revoke_all(server, token, [item.id for item in warmup], args.connections)
    run = revoke_all(server, token, [item.id for item in timed], args.connections)
    bits, _ = fetch_list(server.port, list_path)
    shown = sum(bits.get(item.index) for item in timed)
    print(
        f"  revocations: {run.ok:,} of {run.requests:,} answered 200 in {run.wall_s:.2f} s = {run.per_second:,.0f} "
        f"revocations/s, p50 {percentile(run.latencies_ms, 50):.2f} ms, p99 {percentile(run.latencies_ms, 99):.2f} ms; "
        f"{shown:,} of their bits set in the published list; socket errors {run.socket_errors}",
        flush=True,
    )

    # 3. Revoke -> visible.
    visibility = revoke_to_visible(server.port, token, samples)
    print(
        f"  revoke -> visible ({len(samples)} samples): p50 {percentile(visibility.visible_ms, 50):.2f} ms, "
        f"p99 {percentile(visibility.visible_ms, 99):.2f} ms",
        flush=True,
    )

    # 4. List GETs: cached, and conditional (304).
    _, etag = fetch_list(server.port, list_path)
    status, _ = call_with_headers(server.port, list_path, {**JSON_ACCEPT, "If-None-Match": etag})
    expect(status, None, 304, "a conditional GET with the current ETag")
    accept = 'wrk.headers["Accept"] = "application/json"'
    requests = {"list": accept, "list-304": f'{accept}\nwrk.headers["If-None-Match"] = {json.dumps(etag)}'}
    generator = LuaGenerator(pick_generator("wrk").name, wrk, requests)
    endpoints = [HEALTH, *(Endpoint(name, "GET", list_path, authorized=False, varied_body=False) for name in requests)]
    gets = measure_endpoints(generator, started, database, args, token, endpoints)
    status, _ = call_with_headers(server.port, list_path, {**JSON_ACCEPT, "If-None-Match": etag})
    expect(status, None, 304, "the conditional GET after the runs (the list did not change)")
    return HttpResult(database, args.workers, started.threads, run, visibility, gets)


def call_with_headers(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def print_http(results: list[HttpResult], connections: int) -> None:
    print(f"\nrevocations over HTTP (POST /api/v1/credentials/<id>/revoke, each id once, {connections} keep-alive")
    print("connections of a Python asyncio raw-socket client; every revoke flips the revocation bit and the token")
    print("list value, writes a history row and bumps both lists' revisions)")
    columns = (
        "database  workers x threads  revocations  revocations/s  p50 ms  p99 ms  srv CPU ms/rev  client CPU ms/rev"
    )
    print(columns)
    print("-" * len(columns))
    for r in results:
        run = r.revocations
        print(
            f"{r.database:<9} {r.workers:>7} x {r.threads:<7} {run.ok:>12,} {run.per_second:>14,.0f} "
            f"{percentile(run.latencies_ms, 50):>7.2f} {percentile(run.latencies_ms, 99):>7.2f} "
            f"{run.server_cpu_s * 1000 / max(run.ok, 1):>15.3f} {run.client_cpu_s * 1000 / max(run.ok, 1):>18.3f}"
        )
    print("\nrevoke -> visible (one at a time: POST revoke, then GET the list with Accept: application/json until")
    print("the credential's bit is set; the first GET after a change signs the list: vc+jwt ES256 + eddsa-rdfc-2022)")
    columns = "database  samples  visible p50 ms  p99 ms  revoke answered p50 ms  answered->seen p50 ms  p99 ms  GETs"
    print(columns)
    print("-" * len(columns))
    for r in results:
        v = r.visibility
        print(
            f"{r.database:<9} {len(v.visible_ms):>7} {percentile(v.visible_ms, 50):>15.2f} "
            f"{percentile(v.visible_ms, 99):>7.2f} {percentile(v.revoke_ms, 50):>22.2f} "
            f"{percentile(v.publish_ms, 50):>22.2f} {percentile(v.publish_ms, 99):>7.2f} {max(v.polls):>5}"
        )
    print("(GETs: the most list GETs one sample needed; percentiles are nearest-rank, so with 50 samples p99 is")
    print(" the largest sample)")
    gets = [m for r in results for m in r.gets]
    print_table(gets)
    print("(list = GET of the cached list credential, Accept: application/json; list-304 = the same with")
    print(" If-None-Match: its ETag. wrk's script counts every answer outside 2xx, so for list-304 non-2xx should")
    print(" equal the request count: every answer was the 304; a 304 was checked before and after the runs)")
    for r in results:
        by = {m.endpoint: m for m in r.gets}
        health, full, conditional = by["health"], by["list"], by["list-304"]
        print(
            f"{r.database:<8} list/health req/s {full.rps / health.rps:.3f}, "
            f"list-304/health {conditional.rps / health.rps:.3f}, "
            f"list-304/list {conditional.rps / full.rps:.2f}x; server CPU per request list "
            f"{full.server_cpu_ms_per_request / health.server_cpu_ms_per_request:.1f}x health, list-304 "
            f"{conditional.server_cpu_ms_per_request / health.server_cpu_ms_per_request:.1f}x health"
        )


# ------------------------------------------------------------------------------------------------ main


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=300, help="in-process calls per row, at most (default 300)")
    parser.add_argument("--row-seconds", type=float, default=2.0, help="in-process time per row, about (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="which entries are set in process (default 1)")
    parser.add_argument("--credentials", type=int, default=3000, help="credentials revoked in the timed run (3000)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (16)")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--threads", type=int, help="granian blocking threads per worker, as SERVER_THREADS")
    parser.add_argument("--duration", type=int, default=10, help="timed wrk window per GET endpoint, s (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed wrk warm-up per GET endpoint, s (default 2)")
    parser.add_argument("--databases", default="sqlite", help="comma-separated: sqlite,postgres (default sqlite)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="administrative PostgreSQL URL; a throw-away database is created on it and dropped",
    )
    parser.add_argument("--skip-inprocess", action="store_true", help="only the HTTP part")
    parser.add_argument("--skip-http", action="store_true", help="only the in-process part")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not databases or set(databases) - {"sqlite", "postgres"}:
        parser.error("--databases takes sqlite and/or postgres")
    if not MIN_REPS <= args.reps <= 100_000 or not 0 < args.row_seconds <= 60:
        parser.error(f"--reps must be {MIN_REPS}..100000 and --row-seconds in (0, 60]")
    if not 100 <= args.credentials <= 100_000:
        parser.error("--credentials must be 100..100000")
    if not 0 < args.duration <= 300 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be in (0, 300] and --warmup in [0, 60]")
    if not 1 <= args.connections <= 256 or not 1 <= args.workers <= 16 or not 1 <= (args.threads or 1) <= 64:
        parser.error("--connections must be 1..256, --workers 1..16 and --threads 1..64")
    args.databases = databases
    args.server = "granian"  # running_server reads it
    return args


def main() -> None:
    args = parse_arguments()
    wrk = shutil.which("wrk")
    if wrk is None and not args.skip_http:
        raise SystemExit("wrk is not installed (apt-get install -y wrk); or run with --skip-http")
    started = time.monotonic()
    print("ec-issuer status list benchmark")
    print(f"  source: {source_revision()}")
    print(f"  python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if not args.skip_http and wrk is not None:
        print(
            f"  HTTP: granian x{args.workers} workers, databases {', '.join(args.databases)}, {args.connections} conns"
        )
        print(f"  list GETs: {pick_generator('wrk').name}, {args.warmup} s warm-up + {args.duration} s per endpoint")
    inprocess = {} if args.skip_inprocess else bench_inprocess(args)
    results: list[HttpResult] = []
    if not args.skip_http and wrk is not None:
        for database in args.databases:
            result = bench_http(database, args, wrk)
            if result is not None:
                results.append(result)
    if inprocess:
        print_inprocess_summary(inprocess)
    if results:
        print_http(results, args.connections)
    print(f"\n(run took {time.monotonic() - started:.0f} s; load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
