"""One way to open a database, whichever backend the URL names."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

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
