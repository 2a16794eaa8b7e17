"""A queue for SQLite writers, so that a writer waiting for another one starts as soon as it commits.

SQLite lets one connection write at a time. A connection that finds the write lock taken calls its busy
handler, which sleeps 1, 2, 5, 10, 15 ... ms between attempts: far longer than an issuing transaction holds
the lock (a few tenths of a millisecond), so under load a server worker spends much of its time asleep
while nobody writes. Here each connection first takes an exclusive ``flock`` on a file beside the database,
polled with sleeps of 50 to 500 µs, just before the statement that opens its write transaction
(pysqlite's implicit BEGIN before INSERT, UPDATE, DELETE or REPLACE), and lets it go when the transaction
ends. The kernel drops the lock of a process that dies, so a crash cannot leave the queue closed.

The queue changes when a writer starts, not whether it may: SQLite's own lock still decides. A writer that
is not in the queue (another program, a second connection of a thread that is queued already) meets the
busy handler as before, and a writer that waits for the queue longer than the statement timeout is told
the database is locked, as SQLite would have told it.

Checkpoints move out of the queue too. SQLite's automatic checkpoint runs inside COMMIT, so every ~40th
transaction kept all other writers waiting about 5 ms while it copied the WAL back into the database. Here
each process checkpoints after every CHECKPOINT_EVERY_COMMITS of its own write transactions, once the queue
is released (`QueuedConnection.checkpoint`), and SQLite's own checkpoint stays only as a backstop.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any, ClassVar

_log = logging.getLogger(__name__)

_FIRST_PAUSE_S = 0.00005
_LONGEST_PAUSE_S = 0.0005
# pysqlite opens a transaction before these statements, and only these (Python 3.11 sqlite3 module).
_OPENS_WRITE_TRANSACTION = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# A process checkpoints after this many of its write transactions. With two server workers issuing
# credentials (about 22 WAL frames each) the WAL peaks near 10 MB; 20 or 200 measured no better.
CHECKPOINT_EVERY_COMMITS = 50
# SQLite's automatic checkpoint, inside COMMIT and so inside the queue, only if ours falls behind (40 MB).
BACKSTOP_AUTOCHECKPOINT_PAGES = 10_000


class WriterQueue:
    """The lock file of one database, shared by every connection to it in every process."""

    def __init__(self, lock_path: str, timeout_s: float) -> None:
        self.lock_path = lock_path
        self.timeout_s = timeout_s
        # A thread queued on one connection that writes through a second one would wait for itself.
        self._queued_threads: set[int] = set()
        self._guard = threading.Lock()

    def enter(self, descriptor: int) -> int | None:
        """Take the lock for this thread and return the thread's id, for `leave`; None, without waiting,
        when the thread is queued already."""
        thread = threading.get_ident()
        with self._guard:
            if thread in self._queued_threads:
                return None
            self._queued_threads.add(thread)
        try:
            self._lock(descriptor)
        except BaseException:
            self._forget(thread)
            raise
        return thread

    def leave(self, descriptor: int, thread: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        self._forget(thread)

    def _lock(self, descriptor: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        pause = _FIRST_PAUSE_S
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_S)

    def _forget(self, thread: int) -> None:
        with self._guard:
            self._queued_threads.discard(thread)


class QueuedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> QueuedCursor:
        self._queue_for(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> QueuedCursor:
        self._queue_for(sql)
        return super().executemany(sql, seq_of_parameters)

    def _queue_for(self, sql: str) -> None:
        connection = self.connection
        if isinstance(connection, QueuedConnection):
            connection.queue_for(sql)


class QueuedConnection(sqlite3.Connection):
    """A pysqlite connection that joins its database's writer queue before it opens a write transaction."""

    queue: ClassVar[WriterQueue]
    commit_numbers: ClassVar[itertools.count[int]]  # this process's write transactions on the database

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._descriptor: int | None = None
        self._descriptor_pid = 0
        self._queued_thread: int | None = None
        super().execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_AUTOCHECKPOINT_PAGES}")

    def cursor(self, factory: Any = QueuedCursor) -> Any:  # pyright: ignore[reportIncompatibleMethodOverride]
        return super().cursor(factory)

    # The C shortcuts run their statement on a new cursor without calling its `execute`: queue here too.
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self.queue_for(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> sqlite3.Cursor:
        self.queue_for(sql)
        return super().executemany(sql, seq_of_parameters)

    def queue_for(self, sql: str) -> None:
        if self.in_transaction or not _opens_write_transaction(sql):
            return
        self._leave()  # a transaction SQLite ended on its own (an error that rolled it back) left us queued
        self._queued_thread = self.queue.enter(self._lock_descriptor())

    def commit(self) -> None:
        wrote = self._queued_thread is not None
        try:
            super().commit()
        finally:
            self._leave()
        if wrote and next(self.commit_numbers) % CHECKPOINT_EVERY_COMMITS == 0:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL back into the database while other writers go on, then let it start over.

        The copy is a PASSIVE checkpoint outside the queue: it takes no write lock, so writers keep
        appending meanwhile. Under constant writes it therefore never finishes the WAL, and a WAL that is
        never finished never restarts from its beginning: it would grow until SQLite's backstop checkpoint.
        So a second PASSIVE checkpoint runs inside the queue, where nobody appends, to copy the few frames
        written during the first; the next writer then restarts the WAL. Failing to checkpoint (busy, or the
        queue timed out) costs nothing but a longer WAL until the next one.
        """
        try:
            super().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self._queued_thread = self.queue.enter(self._lock_descriptor())
            try:
                super().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                self._leave()
        except sqlite3.OperationalError as exc:
            _log.debug("checkpoint skipped: %s", exc)

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def __exit__(self, *exc_info: Any) -> Any:
        # `with connection:` commits or rolls back in C, past the methods above.
        try:
            return super().__exit__(*exc_info)
        finally:
            if not self.in_transaction:
                self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()
            if self._descriptor is not None and self._descriptor_pid == os.getpid():
                os.close(self._descriptor)
            self._descriptor = None

    def _leave(self) -> None:
        thread, self._queued_thread = self._queued_thread, None
        if thread is not None and self._descriptor is not None:
            self.queue.leave(self._descriptor, thread)

    def _lock_descriptor(self) -> int:
        # A forked child must not share its parent's open file: flock locks belong to it, not the process.
        if self._descriptor is None or self._descriptor_pid != os.getpid():
            self._descriptor = os.open(self.queue.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._descriptor_pid = os.getpid()
        return self._descriptor


def queued_connection_class(database_path: str, timeout_s: float) -> type[QueuedConnection]:
    """The connection class for one database file, for ``sqlite3.connect(factory=...)``."""
    queue = WriterQueue(database_path + "-writers", timeout_s)
    return type("QueuedConnection", (QueuedConnection,), {"queue": queue, "commit_numbers": itertools.count(1)})


def _opens_write_transaction(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_OPENS_WRITE_TRANSACTION)
