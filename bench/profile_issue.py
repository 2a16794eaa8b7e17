"""Where the server's CPU goes per issuing request: the app in-process, no HTTP server, no network.

Builds the service like the tests do (`bootstrap.build` + `api.app.create_app`) on a fresh SQLite file (or a
throw-away PostgreSQL database with `--database postgres`), registers an issuer, an ES256 key and a scoped
client, then:

1. times whole requests through the WSGI callable (hand-built environ, so no test-client overhead) for
   `POST /api/v1/credentials` and `GET /health`, in process CPU time;
2. times each stage of the issuing path on its own (authentication, body parsing, the use case and its
   parts, the presenter) as production runs it: client, issuer and keys come from the per-process read
   cache (storage/cache.py) and a unit of work checks out a connection only on its first statement
   (storage/session.py LazyConnection), which on the issuing path is the INSERT. What the cache saves
   (the SELECTs of a miss, once per CACHE_TTL_SECONDS per worker) and the duplicate-id SELECT (run only
   for caller-supplied credential ids) are timed apart;
3. runs `--requests` issuing requests under cProfile and prints the hottest functions and the share of
   the named areas (cProfile inflates pure-Python code relative to C; use stage 2 for absolute numbers).

    uv run python bench/profile_issue.py [--requests 2000] [--stage-calls 1000] [--database sqlite|postgres]
                                         [--top 30] [--save FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import hashlib
import io
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from issue_jose import DEFAULT_POSTGRES_URL, ISSUE_BODY, RECIPIENT, postgres_database, source_revision

from ec_issuer.access.commands import CreateClient
from ec_issuer.access.model import hash_token
from ec_issuer.access.policy import IssueIntent
from ec_issuer.api.app import create_app
from ec_issuer.api.presenters import credential_full
from ec_issuer.bootstrap import Container, build
from ec_issuer.config import load_settings
from ec_issuer.core.encoding import dumps, dumps_canonical, loads
from ec_issuer.credentials import ob3
from ec_issuer.credentials.commands import IssueCredential, parse_issue_request
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.service import require_issuer_for
from ec_issuer.keys.model import Algorithm
from ec_issuer.keys.service import active_signing_key
from ec_issuer.signing.jose import sign_vc_jwt
from ec_issuer.storage.migrate import upgrade
from ec_issuer.storage.unit_of_work import SqlUnitOfWork

SLUG = "bench"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Stage = tuple[str, Callable[[int], object]]


def body_for(number: int) -> bytes:
    return dumps(loads(dumps(ISSUE_BODY).replace(RECIPIENT.encode(), f"p-{number}".encode())))


def environ(method: str, path: str, body: bytes, token: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    if token is not None:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return env


def call(app: WsgiApp, env: dict[str, Any]) -> str:
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc_info: Any = None) -> None:
        status.append(line)

    b"".join(app(env, start_response))
    return status[0]


def cpu_us_per_call(action: Callable[[int], object], count: int) -> float:
    """Median of 5 batches of process CPU time per call, in µs."""
    batches = []
    size = max(count // 5, 1)
    number = 0
    for _ in range(5):
        started = time.process_time_ns()
        for _ in range(size):
            number += 1
            action(number)
        batches.append((time.process_time_ns() - started) / size / 1000)
    return sorted(batches)[2]


@contextlib.contextmanager
def database(kind: str, data_dir: Path, postgres_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'ec-issuer.db'}"
        return
    with postgres_database(postgres_url) as url:
        if url is None:
            raise SystemExit("PostgreSQL is unreachable")
        yield url


def prepare(url: str, data_dir: Path) -> tuple[Container, str]:
    settings = load_settings(
        {
            "EC_ISSUER_ENV": "production",
            "EC_ISSUER_DATA_DIR": str(data_dir),
            "KEYSTORE_SECRET": secrets.token_urlsafe(32),
            "DATABASE_URL": url,
            "ISSUER_BASE_URL": "https://badges.bench.example",
        }
    )
    container = build(settings)
    upgrade(container.engine)
    issuer = container.issuers.create(CreateIssuer(slug=SLUG, name="Benchmark University", url="https://bench.example"))
    container.keys.generate(issuer, Algorithm.ES256)
    token = container.access.create(CreateClient(name="bench", issuers=[SLUG])).token
    return container, token


def stage_timings(container: Container, app: WsgiApp, token: str) -> list[tuple[str, list[Stage]]]:
    """The stages to time, in sections; each is a function of a running number."""
    client = container.access.authenticate(token)
    request = parse_issue_request(loads(body_for(0)))
    assert isinstance(request, IssueCredential)
    # The use case's collaborators, reached on purpose: each stage is timed on its own.
    issuing: Any = container.issuing
    new_uow: Callable[[], Any] = issuing._uow  # the production factory: units of work on the read cache

    def uncached_uow() -> Any:
        return SqlUnitOfWork(container.engine)  # no read cache: every read is a SELECT

    with new_uow() as uow:
        issuer = require_issuer_for(uow, client, SLUG, "/issuer")
        key = active_signing_key(uow, issuer, Algorithm.ES256, "/algorithm")
    recipient = issuing._recipient_identity(request)
    intent = IssueIntent(client, issuer.slug, request.achievement.id, recipient.subject_ref)
    now = container.clock.now()

    def build_document() -> dict[str, Any]:
        return ob3.build_achievement_credential(
            request, issuer=issuer, credential_id="urn:uuid:x", valid_from=now, recipient=recipient
        )

    document = build_document()
    stored = container.issuing.issue(client, request).credential

    def in_uow(action: Callable[[Any], object], factory: Callable[[], Any] = new_uow) -> Callable[[int], object]:
        def run(_: int) -> object:
            with factory() as uow:
                return action(uow)

        return run

    def insert_commit(number: int) -> None:
        tag = f"stage-{number}-{secrets.token_hex(4)}"
        # Fresh slot references too: the database refuses a status list slot twice.
        copy = dataclasses.replace(
            stored, id=f"urn:uuid:{tag}", status_slots=tuple(f"{r}-{tag}" for r in stored.status_slots)
        )
        with new_uow() as uow:
            uow.credentials.add(copy)
            uow.commit()

    def checkout(_: int) -> None:
        container.engine.connect().close()

    def issue_request(number: int) -> None:
        assert call(app, environ("POST", "/api/v1/credentials", body_for(number), token)).startswith("201")

    def request_hash(_: int) -> str:
        return hashlib.sha256(dumps_canonical(request.model_dump(mode="json"))).hexdigest()

    def issuer_and_keys(uow: Any) -> object:
        return active_signing_key(uow, require_issuer_for(uow, client, SLUG, "/"), key.algorithm, "/")

    every_request: list[Stage] = [
        ("WSGI POST /api/v1/credentials (whole request)", issue_request),
        ("WSGI GET /health (whole request)", lambda _: call(app, environ("GET", "/health", b"", None))),
        ("  authenticate (SHA-256, client from the read cache)", lambda _: container.access.authenticate(token)),
        ("  orjson.loads + parse_issue_request (pydantic)", lambda n: parse_issue_request(loads(body_for(n)))),
        ("  CredentialIssuer.issue (whole use case)", lambda _: container.issuing.issue(client, request)),
        ("    request hash (model_dump + canonical JSON + SHA-256)", request_hash),
        ("    unit of work, no statement (no connection checked out)", in_uow(lambda _: None)),
        ("    require_issuer_for (read cache, in a uow)", in_uow(lambda u: require_issuer_for(u, client, SLUG, "/"))),
        ("    recipient identity (salted SHA-256 + HMAC)", lambda _: issuing._recipient_identity(request)),
        ("    ob3.build_achievement_credential", lambda _: build_document()),
        (f"    authorization: {type(issuing._policy).__name__}.decide", lambda _: issuing._policy.decide(intent)),
        ("    OB3 JSON Schema validation (jsonschema-rs)", lambda _: issuing._schema.errors(document)),
        (
            "    active_signing_key (read cache, in a uow)",
            in_uow(lambda u: active_signing_key(u, issuer, key.algorithm, "/")),
        ),
        (
            "    dumps + sign_vc_jwt (ES256)",
            lambda _: sign_vc_jwt(dumps(document), key, container.keys.custody(key.custody)),
        ),
        ("    INSERT credential + COMMIT (in a uow, connection checked out for it)", insert_commit),
        ("      of which: pool checkout + return (Engine.connect + close)", checkout),
        ("  credential_full + dumps (response body)", lambda _: dumps(credential_full(stored, now))),
        ("  (building the next body: harness overhead, in the first two)", body_for),
    ]
    cache_misses_and_rare_paths: list[Stage] = [
        (
            "  client by token hash (checkout + SELECT, uncached uow)",
            in_uow(lambda u: u.clients.get_by_token_hash(hash_token(token)), uncached_uow),
        ),
        ("  issuer + its keys (checkout + 2 SELECTs, uncached uow)", in_uow(issuer_and_keys, uncached_uow)),
        (
            "  duplicate-id check, caller-supplied ids only (checkout + SELECT)",
            in_uow(lambda u: u.credentials.get(f"urn:uuid:{secrets.token_hex(16)}")),
        ),
    ]
    return [
        ("on every issuing request", every_request),
        (
            f"not on every request: read-cache misses (once per {container.settings.cache_ttl_seconds:g} s per worker"
            " and key) and the duplicate-id check",
            cache_misses_and_rare_paths,
        ),
    ]


# Areas reported from the profile: (label, file fragment, function name); cumulative time of each.
AREAS: list[tuple[str, str, str]] = [
    ("Flask/APIFlask request handling (wsgi_app)", "flask/app.py", "wsgi_app"),
    ("  view function issue_credential", "routes_credentials.py", "issue_credential"),
    ("  bearer auth: AccessService.authenticate", "access/service.py", "authenticate"),
    ("    SqlClients.get_by_token_hash (read cache)", "storage/repositories.py", "get_by_token_hash"),
    ("  read_json_body", "api/http.py", "read_json_body"),
    ("  parse_issue_request (pydantic)", "credentials/commands.py", "parse_issue_request"),
    ("  CredentialIssuer.issue", "credentials/issuing.py", "issue"),
    ("    require_issuer_for", "issuers/service.py", "require_issuer_for"),
    ("      SqlIssuers.get / get_by_did (read cache)", "storage/repositories.py", "_cached_one"),
    ("    CredentialIssuer._prepare", "credentials/issuing.py", "_prepare"),
    ("      build_achievement_credential", "credentials/ob3.py", "build_achievement_credential"),
    ("      authorization policy decide", "access/", "decide"),
    ("      Ob3SchemaValidator.errors", "credentials/schema.py", "errors"),
    ("      active_signing_key", "keys/service.py", "active_signing_key"),
    ("        SqlKeys.for_issuer (read cache)", "storage/repositories.py", "for_issuer"),
    ("      sign_vc_jwt", "signing/jose.py", "sign_vc_jwt"),
    ("    SqlCredentials.add (INSERT)", "storage/repositories.py", "add"),
    ("    SqlUnitOfWork.commit", "storage/unit_of_work.py", "commit"),
    ("    SqlUnitOfWork.__enter__ (repositories; no connection)", "storage/unit_of_work.py", "__enter__"),
    ("    SqlUnitOfWork.__exit__ (rollback, return connection)", "storage/unit_of_work.py", "__exit__"),
    ("  credential_full (presenter)", "api/presenters.py", "credential_full"),
    ("  json_response", "api/http.py", "json_response"),
    ("ReadCache.get (every cached read)", "storage/cache.py", "get"),
    ("LazyConnection.execute (every statement)", "storage/session.py", "execute"),
    ("  LazyConnection._checked_out (pool checkout on first use)", "storage/session.py", "_checked_out"),
    ("SQLAlchemy Connection.execute (all statements)", "sqlalchemy/engine/base.py", "execute"),
    ("sqlite3 Cursor.execute (driver)", "", "execute' of 'sqlite3.Cursor"),
    ("psycopg Cursor.execute (driver)", "psycopg/cursor.py", "execute"),
    ("psycopg Connection.wait (server round trips)", "psycopg/connection.py", "wait"),
    ("pydantic model_validate (all)", "", "validate_python"),
]


def area_shares(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = getattr(stats, "stats")  # noqa: B009
    rows = []
    for label, fragment, name in AREAS:
        cumulative, calls = 0.0, 0
        for (filename, _line, function), (_cc, nc, _tt, ct, _callers) in table.items():
            if (name in function if not fragment else function == name) and fragment in filename:
                cumulative += ct
                calls += nc
        rows.append((label, cumulative, calls))
    return rows


def profile(app: WsgiApp, token: str, count: int, top: int, save: Path | None) -> None:
    envs = [environ("POST", "/api/v1/credentials", body_for(100_000 + n), token) for n in range(count)]
    profiler = cProfile.Profile()
    profiler.enable()
    for env in envs:
        call(app, env)
    profiler.disable()
    if save is not None:
        profiler.dump_stats(save)
    stats = pstats.Stats(profiler)
    total = max(float(getattr(stats, "total_tt")), 1e-9)  # noqa: B009 - pstats leaves it out of its stubs
    print(f"\ncProfile: {count} issuing requests, {total:.2f} s profiled ({total / count * 1e6:.0f} µs/request)")
    print("\nareas (cumulative time, share of all profiled time):")
    for label, cumulative, calls in area_shares(stats):
        per_request = cumulative / count * 1e6
        print(f"  {label:<60} {per_request:8.0f} µs/req {cumulative / total:6.1%}  ({calls / count:.1f} calls/req)")
    print(f"\ntop {top} functions by own time:")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(pstats.SortKey.TIME).print_stats(top)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-20000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="issuing requests under the profiler (2000)")
    parser.add_argument("--stage-calls", type=int, default=1000, help="calls per stage timing (1000)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--save", type=Path, help="also write the raw profile here (for pstats or snakeviz)")
    args = parser.parse_args()
    if not 1 <= args.requests <= 50_000 or not 10 <= args.stage_calls <= 50_000:
        parser.error("--requests must be 1..50000 and --stage-calls 10..50000")
    with (
        tempfile.TemporaryDirectory(prefix="ec-issuer-profile-") as raw,
        database(args.database, Path(raw), args.postgres_url) as url,
    ):
        container, token = prepare(url, Path(raw))
        app = create_app(container)
        wsgi: WsgiApp = app.wsgi_app
        for n in range(300):  # warm-up: imports, caches, key loading, connection pool
            call(wsgi, environ("POST", "/api/v1/credentials", body_for(-n), token))
        print(f"source: {source_revision()}")
        print(f"stage timings ({args.database}, process CPU µs per call, median of 5 batches):")
        for section, stages in stage_timings(container, wsgi, token):
            print(f"{section}:")
            for name, action in stages:
                print(f"  {name:<72} {cpu_us_per_call(action, args.stage_calls):8.1f}", flush=True)
        profile(wsgi, token, args.requests, args.top, args.save)
        container.engine.dispose()


if __name__ == "__main__":
    main()
