"""One way to open a database, whichever backend the URL names."""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# SQLite lets one writer in at a time and makes the others poll, sleeping between tries.
# Threads of one process queue on a lock instead, and go in the moment it is free.
_WRITERS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def open_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, enforced foreign keys and a busy timeout.

    ``postgresql://`` URLs are pointed at psycopg 3.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        _WRITERS[engine] = threading.RLock()
        return engine
    return create_engine(parsed, **kwargs)


def one_writer(engine: Engine) -> AbstractContextManager[Any]:
    """NamedSubscription around a write transaction: a lock on SQLite, nothing on PostgreSQL."""
    lock = _WRITERS.get(engine)
    return lock if lock is not None else nullcontext()


def _sqlite_begin(conn: Connection) -> None:
    """pysqlite's own transaction handling is off, so BEGIN is ours to emit.

    Connections marked ``writer`` take the write lock at BEGIN, so two writers queue on
    the busy timeout instead of one failing when it upgrades; plain readers never block.
    """
    writer = conn.get_execution_options().get("writer", False)
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if writer else "BEGIN")  # type: ignore[union-attr]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Checkpoint every ~40 MB of WAL instead of ~4 MB: rows appended in a burst (messages,
    # events) share pages, so a larger checkpoint writes each page back fewer times.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


class Checkpointer:
    """SQLite: the WAL written back into the database from a thread of its own.

    A commit that takes the WAL past ``wal_autocheckpoint`` writes it back and syncs the
    file before it returns, and every transaction queued on the one writer waits for it:
    on the bench machine that made 1% of SMPP round trips take 75-90 ms instead of ~18.
    A long-running process (``serve``) checkpoints here every ``every`` seconds instead,
    in ``PASSIVE`` mode, which neither waits for nor blocks readers and writers, so the
    WAL stays far below the automatic threshold; that threshold remains the safety net
    (for short commands, and should this thread fall behind). Small and often is best:
    measured at 10 dialogues in flight, round trip p99 was 32-37 ms checkpointing every
    0.2 s, 32-57 ms every second, 70-74 ms every 5 s, and 76-87 ms left to the commits.
    """

    def __init__(self, engine: Engine, every: float = 0.2) -> None:
        self._engine = engine
        self._every = every
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        """How many checkpoints ran (for tests and logs)."""

    @classmethod
    def start_for(cls, engine: Engine, every: float = 0.2) -> Checkpointer | None:
        """A started checkpointer for a SQLite file; ``None`` for anything else."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            return None
        checkpointer = cls(engine, every)
        checkpointer.start()
        return checkpointer

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the WAL, frames written back)."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            busy, frames, written = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        self.checkpoints += 1
        return int(busy), int(frames), int(written)

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.checkpoint()
            except Exception:
                log.exception(
                    "SQLite checkpoint failed; the next commit past the threshold does it"
                )
