"""The SQLite writer queue (storage/sqlite_writers.py) on real database files, threads and processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.sqlite_writers import (
    BACKSTOP_AUTOCHECKPOINT_PAGES,
    CHECKPOINT_EVERY_COMMITS,
    QueuedConnection,
    queued_connection_class,
)

INCREMENTS_PER_PROCESS = 300


def _connect(path: Path, timeout_s: float = 5.0) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, timeout=timeout_s, factory=queued_connection_class(str(path), timeout_s), check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "queue.db"
    with _connect(path) as setup:
        setup.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        setup.execute("INSERT INTO counter VALUES (0)")
    return path


def _increment(path: str, times: int, failures: multiprocessing.Queue[str]) -> None:
    connection = _connect(Path(path))
    try:
        for _ in range(times):
            # Read, then write in the same transaction: lost updates would show in the final count.
            connection.execute("UPDATE counter SET n = n + 0")
            (n,) = connection.execute("SELECT n FROM counter").fetchone()
            connection.execute("UPDATE counter SET n = ?", (n + 1,))
            connection.commit()
    except sqlite3.Error as exc:  # reported to the parent, which fails the test
        failures.put(repr(exc))
    finally:
        connection.close()


def _append_documents(path: str, transactions: int, failures: multiprocessing.Queue[str]) -> None:
    connection = _connect(Path(path))
    try:
        for _ in range(transactions):
            connection.execute("INSERT INTO documents (key, body) VALUES (?, ?)", (os.urandom(16), os.urandom(3000)))
            connection.commit()
    except sqlite3.Error as exc:
        failures.put(repr(exc))
    finally:
        connection.close()


def _run_in_processes(target: Callable[..., None], arguments: tuple[object, ...], *, processes: int) -> None:
    """Run target(*arguments, failures) in fresh processes at once; a failure any of them reports fails the test."""
    context = multiprocessing.get_context("spawn")
    failures: multiprocessing.Queue[str] = context.Queue()
    started = [context.Process(target=target, args=(*arguments, failures)) for _ in range(processes)]
    for process in started:
        process.start()
    for process in started:
        process.join(120)
    assert all(process.exitcode == 0 for process in started)
    assert failures.empty(), failures.get()


def _documents_database(tmp_path: Path) -> Path:
    path = tmp_path / "documents.db"
    with _connect(path) as setup:
        setup.execute("CREATE TABLE documents (key BLOB NOT NULL UNIQUE, body BLOB NOT NULL)")
    with _connect(path) as setup:
        setup.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the table into the database file itself
    return path


def _rows_in_the_database_file_alone(path: Path, scratch: Path) -> int:
    """What a checkpoint has copied into the database file: a copy of the file without its WAL."""
    copy = scratch / "file-alone.db"
    copy.write_bytes(path.read_bytes())
    with sqlite3.connect(copy) as alone:
        (count,) = alone.execute("SELECT count(*) FROM documents").fetchone()
    copy.unlink()
    return count


def test_every_nth_write_transaction_checkpoints_the_wal(tmp_path: Path) -> None:
    path = _documents_database(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    writer = _connect(path)  # a connection class of its own, so its count starts here
    for number in range(1, CHECKPOINT_EVERY_COMMITS + 1):
        writer.execute("INSERT INTO documents (key, body) VALUES (?, ?)", (os.urandom(16), b"x"))
        writer.commit()
        copied = _rows_in_the_database_file_alone(path, scratch)
        assert copied == (number if number == CHECKPOINT_EVERY_COMMITS else 0), number
    writer.close()


def test_writers_in_two_processes_keep_the_wal_small(tmp_path: Path) -> None:
    # 3,000 transactions of ~4 pages write ~48 MB of WAL frames. Left to SQLite's backstop checkpoint the
    # WAL file would reach its 40 MB; checkpointed as the queue does it, it restarts long before.
    path = _documents_database(tmp_path)
    watcher = _connect(path)  # an idle connection: SQLite deletes the WAL file when the last one closes
    watcher.execute("SELECT count(*) FROM documents").fetchone()
    _run_in_processes(_append_documents, (str(path), 1500), processes=2)
    wal_bytes = Path(f"{path}-wal").stat().st_size  # a WAL file never shrinks: the largest it has been
    watcher.close()
    assert wal_bytes < BACKSTOP_AUTOCHECKPOINT_PAGES * 4096 / 4, f"WAL grew to {wal_bytes:,} bytes"
    with _connect(path) as check:
        assert check.execute("SELECT count(*) FROM documents").fetchone() == (3000,)


def test_a_waiting_writer_starts_when_the_holder_commits_not_after_a_busy_sleep(tmp_path: Path) -> None:
    path = _database(tmp_path)
    holder, waiter = _connect(path), _connect(path)
    delays: list[float] = []
    for value in range(1, 6):
        holder.execute("UPDATE counter SET n = ?", (value,))  # holds the queue and SQLite's write lock
        started: list[float] = []

        def write(started: list[float] = started) -> None:
            waiter.execute("UPDATE counter SET n = n * 10")
            started.append(time.monotonic())
            waiter.commit()

        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.25)
        assert not started, "the second writer must wait while the first holds the queue"
        committed = time.monotonic()
        holder.commit()
        thread.join(5)
        assert started, "the second writer never started"
        delays.append(started[0] - committed)
        assert holder.execute("SELECT n FROM counter").fetchone() == (value * 10,)
    # A quarter of a second into its wait, SQLite's busy handler sleeps 50 ms between attempts (about 25 ms
    # late on average); the queue polls every 0.5 ms at most.
    assert statistics.median(delays) < 0.01, delays
    holder.close()
    waiter.close()


def test_a_writer_waits_no_longer_than_the_timeout_and_is_told_the_database_is_locked(tmp_path: Path) -> None:
    path = _database(tmp_path)
    holder, waiter = _connect(path), _connect(path, timeout_s=0.3)
    holder.execute("UPDATE counter SET n = 1")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            waiter.execute("UPDATE counter SET n = 2")
        except sqlite3.OperationalError as exc:
            errors.append(exc)

    began = time.monotonic()
    thread = threading.Thread(target=write)
    thread.start()
    thread.join(5)
    waited = time.monotonic() - began
    assert [str(e) for e in errors] == ["database is locked"]
    assert 0.25 <= waited < 2.0
    holder.rollback()
    # The one that gave up is not left queued: it writes at once now that the queue is free.
    waiter.execute("UPDATE counter SET n = 3")
    waiter.commit()
    assert holder.execute("SELECT n FROM counter").fetchone() == (3,)
    holder.close()
    waiter.close()


def test_rollback_and_close_leave_the_queue(tmp_path: Path) -> None:
    path = _database(tmp_path)
    first, second = _connect(path, timeout_s=0.5), _connect(path, timeout_s=0.5)
    first.execute("UPDATE counter SET n = 1")
    first.rollback()
    second.execute("UPDATE counter SET n = 2")  # would time out if the rollback had kept the queue
    second.commit()
    first.execute("UPDATE counter SET n = 3")
    first.close()  # closed in the middle of its transaction: SQLite rolls back, the queue is left
    second.execute("UPDATE counter SET n = 4")
    second.commit()
    assert second.execute("SELECT n FROM counter").fetchone() == (4,)
    second.close()


def test_reads_and_a_thread_s_second_connection_do_not_queue(tmp_path: Path) -> None:
    path = _database(tmp_path)
    writer, reader = _connect(path, timeout_s=0.3), _connect(path, timeout_s=0.3)
    writer.execute("UPDATE counter SET n = 5")
    # WAL readers never wait for the writer, and reads open no write transaction: no queue.
    assert reader.execute("SELECT n FROM counter").fetchone() == (0,)
    # The same thread writing through another connection would wait for itself in the queue; it goes
    # straight to SQLite, whose busy timeout answers as it always did.
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        reader.execute("UPDATE counter SET n = 6")
    assert time.monotonic() - began < 2.0
    writer.commit()
    reader.rollback()
    writer.close()
    reader.close()


def test_concurrent_processes_lose_no_update(tmp_path: Path) -> None:
    path = _database(tmp_path)
    _run_in_processes(_increment, (str(path), INCREMENTS_PER_PROCESS), processes=3)
    with _connect(path) as check:
        assert check.execute("SELECT n FROM counter").fetchone() == (3 * INCREMENTS_PER_PROCESS,)


def test_the_service_s_sqlite_engine_queues_its_writers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    with engine.connect() as connection:
        assert isinstance(connection.connection.dbapi_connection, QueuedConnection)
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.commit()
        connection.execute(text("INSERT INTO t VALUES (1)"))
        lock = os.open(tmp_path / "service.db-writers", os.O_RDWR)
        with pytest.raises(BlockingIOError):  # the write transaction holds the queue...
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        connection.commit()
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ...until it commits
        os.close(lock)
    engine.dispose()
    memory = make_engine("sqlite://")
    with memory.connect() as connection:
        assert not isinstance(connection.connection.dbapi_connection, QueuedConnection)
    memory.dispose()
