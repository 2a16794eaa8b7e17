"""The credential lifecycle under real contention: several OS processes on one PostgreSQL database.

Each test gets a database of its own. The parent creates the issuer, its keys (in a keystore directory
under tmp_path) and the admin client; every child process (multiprocessing, 'spawn') builds its own
container on the same database, keystore directory and secret, waits at a barrier with the others and
then works. The assertions are made from the database and from the published lists afterwards.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from ec_issuer.access.model import ApiClient
from ec_issuer.bootstrap import Container, build
from ec_issuer.core.encoding import loads
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.signing.jose import parse_compact
from ec_issuer.status.bitstring import BitstringStatusList
from ec_issuer.status.lists import StatusListKind, StatusListUrls, StatusSlot
from ec_issuer.status.model import LifecycleAction, RevocationReason
from ec_issuer.status.permutation import shuffled_index
from ec_issuer.status.token_status_list import TokenStatus, TokenStatusList
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import upgrade
from ec_issuer.storage.status_slots import DEFAULT_BLOCK_SIZE, SqlStatusSlotAllocator
from ec_issuer.storage.tables import credential_history, issued_credentials, status_entries, status_lists
from tests.services import POSTGRES_ADMIN_URL
from tests.support import SettableClock, award_body, make_settings

pytestmark = pytest.mark.postgres

ISSUER = "acme"
REVOCATION_LIST = f"{ISSUER}/revocation/1"
TOKEN_LIST = f"{ISSUER}/token/1"
START_TIMEOUT = 120.0  # seconds for every child to start, import and build its container
WORK_TIMEOUT = 150.0  # seconds for the children's work once they are released together

ISSUING_PROCESSES = 4
CREDENTIALS_PER_PROCESS = 2_500


@dataclass(frozen=True)
class SlotRow:
    list_id: str
    idx: int
    credential_id: str
    size: int


# --- a fresh database per test, shared with child processes -------------------------------------------


@dataclass(frozen=True, slots=True)
class Shared:
    """What a child process needs to join the parent's deployment: same database, keystore and secret."""

    database_url: str
    data_dir: Path
    token: str
    now: datetime | None = None  # the instant of the child's clock; None for the system clock


@dataclass(frozen=True, slots=True)
class Deployment:
    shared: Shared
    container: Container  # the parent's, on the test's clock
    client: ApiClient


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped afterwards (postgres_url skips the test
    locally, or fails it in CI, when the server is missing)."""
    name = f"ec_issuer_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def deployment(fresh_database: str, tmp_path: Path, clock: SettableClock) -> Iterator[Deployment]:
    """Issuer 'acme' with an ES256 and an EdDSA key, and the bootstrap admin client."""
    container = build(make_settings(fresh_database, tmp_path), clock=clock)
    try:
        issuer = container.issuers.create(
            CreateIssuer(slug=ISSUER, name="ACME University", url="https://acme.example", email="badges@acme.example")
        )
        container.keys.generate(issuer, Algorithm.ES256)
        container.keys.generate(issuer, Algorithm.EDDSA)
        token = "test-admin-token-" + uuid.uuid4().hex
        container.access.ensure_bootstrap_client(token)
        client = container.access.authenticate(token)
        yield Deployment(Shared(fresh_database, tmp_path, token), container, client)
    finally:
        container.engine.dispose()


# --- running work in several processes released together ----------------------------------------------

Job = Callable[[Container, ApiClient, Any], Any]


@dataclass(frozen=True, slots=True)
class Report:
    number: int
    value: Any
    began: float  # time.time() when released from the barrier
    ended: float
    error: str | None


@dataclass(frozen=True, slots=True)
class Run:
    values: list[Any]  # by child number
    wall_seconds: float  # from the first child's release to the last child's end
    startup_seconds: float  # from starting the processes to their release (spawn, imports, build)


def _child(number: int, job: Job, work: Any, shared: Shared, barrier: Any, reports: Queue[Report]) -> None:
    container: Container | None = None
    try:
        clock = SettableClock(shared.now) if shared.now is not None else None
        container = build(make_settings(shared.database_url, shared.data_dir), clock=clock)
        client = container.access.authenticate(shared.token)
        barrier.wait(timeout=START_TIMEOUT)
        began = time.time()
        value = job(container, client, work)
        reports.put(Report(number, value, began, time.time(), None))
    except BaseException:  # noqa: BLE001 - whatever happened is reported to the parent, which fails the test
        barrier.abort()
        reports.put(Report(number, None, 0.0, 0.0, f"child {number}:\n{traceback.format_exc()}"))
    finally:
        if container is not None:
            container.engine.dispose()


def run_in_processes(job: Job, works: Sequence[Any], shared: Shared) -> Run:
    """Run job(container, client, work) in one spawned process per work item, all released at once."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(works) + 1)
    reports: Queue[Report] = context.Queue()
    processes = [
        context.Process(target=_child, args=(n, job, work, shared, barrier, reports), name=f"status-worker-{n}")
        for n, work in enumerate(works)
    ]
    launched = time.time()
    for process in processes:
        process.start()
    received: list[Report] = []
    try:
        with contextlib.suppress(threading.BrokenBarrierError):  # a child failed to start: its report says why
            barrier.wait(timeout=START_TIMEOUT)
        deadline = time.monotonic() + WORK_TIMEOUT
        while len(received) < len(processes):
            try:
                received.append(reports.get(timeout=1.0))
            except queue.Empty:
                crashed = [p.name for p in processes if p.exitcode not in (None, 0)]
                if crashed:
                    pytest.fail(f"worker processes died without a report: {crashed}")
                if time.monotonic() > deadline:
                    pytest.fail(f"workers did not finish within {WORK_TIMEOUT} s")
    finally:
        for process in processes:
            process.join(timeout=30)
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        reports.close()
        reports.join_thread()
    errors = [report.error for report in received if report.error is not None]
    assert not errors, "\n".join(errors)
    assert all(process.exitcode == 0 for process in processes)
    received.sort(key=lambda report: report.number)
    released = min(report.began for report in received)
    wall = max(report.ended for report in received) - released
    return Run([report.value for report in received], wall, released - launched)


# --- the jobs (module level, so that 'spawn' children can import them) ---------------------------------


def issue_many(container: Container, client: ApiClient, work: tuple[int, int]) -> list[str]:
    worker, count = work
    issued: list[str] = []
    for n in range(count):
        request = parse_issue_request(award_body(recipient={"email": f"learner-{worker}-{n}@example.org"}))
        issued.append(container.issuing.issue(client, request).credential.id)
    return issued


REVOKING_THREADS = 2


def revoke_many(container: Container, client: ApiClient, ids: list[str]) -> list[str]:
    """Revoke the ids from REVOKING_THREADS threads; the ids this process's requests changed."""

    def revoke(chunk: list[str]) -> list[str]:
        changed: list[str] = []
        for credential_id in chunk:
            outcome = container.lifecycle.change(
                client, credential_id, LifecycleAction.REVOKE, reason_code=RevocationReason.FRAUD, reason="test"
            )
            if outcome.changed:
                changed.append(credential_id)
        return changed

    chunks = [ids[t::REVOKING_THREADS] for t in range(REVOKING_THREADS)]
    with ThreadPoolExecutor(REVOKING_THREADS) as pool:
        return [credential_id for changed in pool.map(revoke, chunks) for credential_id in changed]


def sweep(container: Container, _client: ApiClient, batch: int | None) -> int:
    return container.expiry.run() if batch is None else container.expiry.run(batch=batch)


def measured(line: str) -> None:
    """Show a measured figure (run pytest with -s to see it)."""
    print(line)  # noqa: T201 - the figures are an output of these tests


# --- helpers reading the database ---------------------------------------------------------------------


def issue_in_parent(deployment: Deployment, count: int, **overrides: Any) -> list[str]:
    issuing = deployment.container.issuing
    return [
        issuing.issue(deployment.client, parse_issue_request(award_body(**overrides))).credential.id
        for _ in range(count)
    ]


def stored_payloads(container: Container, ids: Sequence[str]) -> dict[str, Any]:
    t = issued_credentials
    with container.engine.connect() as connection:
        rows = connection.execute(select(t.c.id, t.c.payload).where(t.c.id.in_(list(ids))))
        return {row.id: loads(row.payload) for row in rows}


def statuses(container: Container) -> dict[str, str]:
    t = issued_credentials
    with container.engine.connect() as connection:
        return {row.id: row.status for row in connection.execute(select(t.c.id, t.c.status))}


def history_counts(container: Container, event: str) -> Counter[str]:
    t = credential_history
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(t.c.credential_id, func.count()).where(t.c.event == event).group_by(t.c.credential_id)
        )
        return Counter({row[0]: row[1] for row in rows})


def list_row(container: Container, list_id: str) -> Any:
    with container.engine.connect() as connection:
        return connection.execute(select(status_lists).where(status_lists.c.id == list_id)).one()


def set_bits(bits: BitstringStatusList) -> set[int]:
    data = bits.to_bytes()
    return {
        byte_number * 8 + bit
        for byte_number, byte in enumerate(data)
        if byte
        for bit in range(8)
        if byte & (0x80 >> bit)
    }


# --- the tests ----------------------------------------------------------------------------------------


def test_concurrent_issuing_from_four_processes_never_shares_a_status_index(deployment: Deployment) -> None:
    works = [(worker, CREDENTIALS_PER_PROCESS) for worker in range(ISSUING_PROCESSES)]
    run = run_in_processes(issue_many, works, deployment.shared)

    total = ISSUING_PROCESSES * CREDENTIALS_PER_PROCESS
    measured(
        f"\n[issuing] {ISSUING_PROCESSES} processes x {CREDENTIALS_PER_PROCESS} credentials: "
        f"{total} in {run.wall_seconds:.2f} s wall = {total / run.wall_seconds:.0f} credentials/s "
        f"(processes started in {run.startup_seconds:.1f} s)"
    )
    issued_ids = [credential_id for ids in run.values for credential_id in ids]
    assert len(issued_ids) == total
    assert len(set(issued_ids)) == total

    engine = deployment.container.engine
    e, lists = status_entries, status_lists
    with engine.connect() as connection:
        stored = set(connection.execute(select(issued_credentials.c.id)).scalars())
        assert stored == set(issued_ids)
        # Issuance is the credential row itself; the history table holds changes only.
        assert connection.execute(select(func.count()).select_from(credential_history)).scalar_one() == 0
        sizes: dict[str, int] = {row.id: row.size for row in connection.execute(select(lists.c.id, lists.c.size))}
        for kind in ("revocation", "token"):
            slots = connection.execute(
                select(issued_credentials.c.id, issued_credentials.c[f"{kind}_slot"].label("slot"))
            ).all()
            entries = [
                SlotRow(list_id, int(index), row.id, sizes[list_id])
                for row in slots
                if row.slot is not None
                for list_id, _, index in [row.slot.partition("#")]
            ]
            assert len(entries) == total, kind
            assert len({(row.list_id, row.idx) for row in entries}) == total, kind
            assert len({row.credential_id for row in entries}) == total, f"one {kind} entry per credential"
            outside = [row for row in entries if not 0 <= row.idx < row.size]
            assert not outside, f"{kind} indices outside their list: {outside[:5]}"

            # Every index is the permutation of a position reserved in its list, and at most the last block
            # of each process was left partly unused.
            opened = connection.execute(select(lists).where(lists.c.kind == kind).order_by(lists.c.number)).all()
            used = Counter(row.list_id for row in entries)
            measured(
                f"[issuing] {kind} lists: "
                + ", ".join(f"{row.id} reserved {row.next_position} used {used[row.id]}" for row in opened)
            )
            for row in opened:
                positions = range(min(row.next_position, row.size))
                reserved = {shuffled_index(bytes(row.permutation_key), row.size, p) for p in positions}
                assert {entry.idx for entry in entries if entry.list_id == row.id} <= reserved, row.id
            unused = sum(min(row.next_position, row.size) for row in opened) - total
            assert 0 <= unused <= ISSUING_PROCESSES * (DEFAULT_BLOCK_SIZE - 1), f"{kind}: {unused} slots lost"
        # Issuing writes no status entry: a list publishes 0 for a slot until its credential's status changes.
        assert connection.execute(select(func.count()).select_from(e)).scalar_one() == 0


def test_concurrent_revocations_in_one_list_are_all_published(deployment: Deployment) -> None:
    container = deployment.container
    ids = issue_in_parent(deployment, 400)
    payloads = stored_payloads(container, ids)
    assert {p["credentialStatus"]["statusListCredential"].split("/status/")[1] for p in payloads.values()} == {
        "revocation/1"
    }
    targets = ids[::2]  # 200
    # Each target is sent by two processes at about the same moment: process k works through its own
    # quarter interleaved with process k+1's, so the compare-and-set on the status really races.
    quarters = [targets[k::4] for k in range(4)]
    works = [[x for pair in zip(quarters[k], quarters[(k + 1) % 4], strict=True) for x in pair] for k in range(4)]
    run = run_in_processes(revoke_many, works, deployment.shared)
    measured(
        f"\n[revoking] {len(targets)} credentials, each asked twice, from 4 processes x {REVOKING_THREADS} "
        f"threads: {run.wall_seconds:.2f} s wall"
    )

    changed = [credential_id for ids_changed in run.values for credential_id in ids_changed]
    assert sorted(changed) == sorted(targets), "each revocation took effect exactly once"
    current = statuses(container)
    assert {i for i in ids if current[i] == "revoked"} == set(targets)
    assert {i for i in ids if current[i] == "active"} == set(ids) - set(targets)
    assert history_counts(container, "revoked") == Counter(dict.fromkeys(targets, 1))

    # No lost revision bump: every revocation changed one value in each of the two lists.
    assert list_row(container, REVOCATION_LIST).revision == len(targets)
    assert list_row(container, TOKEN_LIST).revision == len(targets)

    published = container.status_lists.current(REVOCATION_LIST)
    assert published.revision == len(targets)
    assert published.document is not None
    subject = loads(published.document)["credentialSubject"]
    assert subject["statusPurpose"] == "revocation"
    revoked_indices = {int(payloads[i]["credentialStatus"]["statusListIndex"]) for i in targets}
    assert len(revoked_indices) == len(targets)
    assert set_bits(BitstringStatusList.decode(subject["encodedList"])) == revoked_indices

    token = container.status_lists.current(TOKEN_LIST)
    values = TokenStatusList.from_claim(parse_compact(token.jwt).payload_json()["status_list"])
    token_indices = {payloads[i]["status"]["status_list"]["idx"] for i in ids}
    for credential_id in ids:
        expected = TokenStatus.INVALID if credential_id in set(targets) else TokenStatus.VALID
        assert values.get(payloads[credential_id]["status"]["status_list"]["idx"]) == expected
    others = [index for index in range(len(values)) if index not in token_indices and values.get(index) != 0]
    assert not others, "nothing is reported for slots no credential holds"


@pytest.mark.parametrize("batch", [None, 20], ids=["default-batch", "batch-20"])
def test_concurrent_expiry_sweeps_expire_each_credential_once(
    deployment: Deployment, clock: SettableClock, batch: int | None
) -> None:
    container = deployment.container
    soon = (clock.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    later = (clock.now() + timedelta(days=10)).isoformat().replace("+00:00", "Z")
    due = issue_in_parent(deployment, 300, validUntil=soon)
    not_due = issue_in_parent(deployment, 20, validUntil=later)
    unbounded = issue_in_parent(deployment, 5)

    shared = replace(deployment.shared, now=clock.now() + timedelta(days=2))
    run = run_in_processes(sweep, [batch] * 3, shared)
    measured(f"\n[expiry, batch {batch or 'default'}] 3 sweeps expired {run.values}: {run.wall_seconds:.2f} s wall")

    assert sum(run.values) == len(due)
    current = statuses(container)
    assert {current[i] for i in due} == {"expired"}
    assert {current[i] for i in not_due + unbounded} == {"active"}
    assert history_counts(container, "expired") == Counter(dict.fromkeys(due, 1))
    # Expiry is stated by validUntil itself, not published in the lists.
    assert list_row(container, REVOCATION_LIST).revision == 0
    assert list_row(container, TOKEN_LIST).revision == 0


def test_an_allocator_uses_the_list_a_concurrent_allocator_just_opened(deployment: Deployment) -> None:
    """The interleaving the four issuing processes hit, made deterministic: B's reservation finds no list;
    before B acts on that, A opens list 1 and reserves from it; B must then use list 1 too."""
    container = deployment.container
    urls = StatusListUrls(container.settings.issuer_base_url)
    size = container.settings.status_list_size
    kind = StatusListKind.TOKEN
    a = SqlStatusSlotAllocator(container.engine, urls, container.clock, list_size=size)
    engine_b = make_engine(deployment.shared.database_url)
    b = SqlStatusSlotAllocator(engine_b, urls, container.clock, list_size=size)
    slots_of_a: list[StatusSlot] = []

    def a_acts_meanwhile(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not slots_of_a and statement.lstrip().upper().startswith("UPDATE STATUS_LISTS"):
            slots_of_a.append(a.allocate(ISSUER, kind))

    event.listen(engine_b, "after_cursor_execute", a_acts_meanwhile)
    try:
        slot_of_b = b.allocate(ISSUER, kind)
    finally:
        event.remove(engine_b, "after_cursor_execute", a_acts_meanwhile)
        engine_b.dispose()

    with container.engine.connect() as connection:
        opened = connection.execute(
            select(status_lists.c.id, status_lists.c.next_position).order_by(status_lists.c.number)
        ).all()
    assert [slot.list_id for slot in slots_of_a] == [TOKEN_LIST]
    assert [tuple(row) for row in opened] == [(TOKEN_LIST, 2 * DEFAULT_BLOCK_SIZE)]
    assert slot_of_b.list_id == TOKEN_LIST
