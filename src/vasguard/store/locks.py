"""Named locks that every process on the database sees: one holder of a name at a time.

A bill run holds its period and the scheduler holds each job while it runs, so two
processes (or two threads) never do the same work at once. The hold lasts across many
transactions — a job commits per chunk — and dies with the process that took it, so a
crashed holder never keeps the work from being resumed:

- PostgreSQL: a session-level advisory lock on a connection of its own;
- SQLite file: ``flock`` on a file beside the database (one machine, as SQLite is);
- SQLite in memory: a set in this process, the only one that can see the database.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, text


class NamedLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock if it is free; ``False`` if someone holds it."""
        ...

    def release(self) -> None: ...


def named_lock(engine: Engine, name: str) -> NamedLock:
    """The lock called ``name`` on this database, for the backend it runs on."""
    if engine.dialect.name == "postgresql":
        return _AdvisoryLock(engine, name)
    database = engine.url.database
    if not database or database == ":memory:":
        return _ProcessLock(engine, name)
    return _FileLock(Path(f"{database}.{_file_safe(name)}.lock"))


@contextmanager
def holding(engine: Engine, name: str) -> Iterator[bool]:
    """Hold ``name`` for the block if it is free; yields whether it was taken.

    The block runs either way, so the caller decides what "someone else has it" means
    (skip, refuse, wait); a lock taken is released however the block ends.
    """
    lock = named_lock(engine, name)
    taken = lock.acquire()
    try:
        yield taken
    finally:
        if taken:
            lock.release()


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


class _AdvisoryLock:
    """PostgreSQL: a session-level advisory lock, on a connection of its own held while
    the lock is (the holder's own connection commits per chunk, and a transaction-level
    lock would go with the first commit). The server drops it when the session ends,
    crash or not. Advisory locks are the server's, not a database's, so the key (64 bits
    of a hash) is of the database name and the lock name: two databases on one server
    never hold each other's jobs."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        scoped = f"{engine.url.database}\x1f{name}"
        digest = hashlib.blake2b(scoped.encode(), digest_size=8).digest()
        self._key = int.from_bytes(digest, "big", signed=True)
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = conn.scalar(
                text("SELECT pg_try_advisory_lock(CAST(:key AS bigint))"), {"key": self._key}
            )
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        """Unlock, then end the session. The unlock is what lets the next holder in at
        once (the server notices a closed session a moment later); ending the session,
        the same way out as a crash, leaves nothing else held even if the unlock fails."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.scalar(text("SELECT pg_advisory_unlock(CAST(:key AS bigint))"), {"key": self._key})
        finally:
            conn.invalidate()
            conn.close()


class _FileLock:
    """SQLite (one machine): ``flock`` on a file beside the database. The kernel releases it
    when the descriptor closes, which a killed process's does; two descriptors conflict even
    within one process, so two threads are kept apart as two processes are. The file stays:
    removing it would race with a holder that has just opened it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# Names held per in-memory database (an engine): nothing outside the process can see it.
_HELD: WeakKeyDictionary[Engine, set[str]] = WeakKeyDictionary()
_HELD_GUARD = threading.Lock()


class _ProcessLock:
    """SQLite without a file (``:memory:``): the database lives in this process, so does
    the lock."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name

    def acquire(self) -> bool:
        with _HELD_GUARD:
            held = _HELD.setdefault(self._engine, set())
            if self._name in held:
                return False
            held.add(self._name)
            return True

    def release(self) -> None:
        with _HELD_GUARD:
            _HELD.get(self._engine, set()).discard(self._name)
