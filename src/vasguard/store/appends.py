"""Appends written at commit: rows nothing reads back inside the same unit of work.

Events, reply MTs and listings are only ever appended during a turn. ListingCandidate them until
commit lets PostgreSQL receive them and the COMMIT in one pipelined round trip, instead
of a round trip each. Anything whose generated id or row count the caller needs is
executed at once instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert

from vasguard.store.prepared import Prepared

# One batch: a table, and rows for it that all give the same columns.
Batch = tuple[Table, list[dict[str, Any]]]


class Appends:
    def __init__(self) -> None:
        self._batches: dict[tuple[Table, tuple[str, ...]], Batch] = {}

    def add(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Queue rows for ``table``; rows of one table go as one batch.

        Batches are written in the order their table was first queued, so a row is never
        written before the row it refers to (a listing before its items).
        """
        if not rows:
            return
        key = (table, tuple(rows[0]))
        batch = self._batches.setdefault(key, (table, []))
        batch[1].extend(rows)

    def commit(self, conn: Connection) -> None:
        """Write what is queued, in order, and commit: pipelined on PostgreSQL."""
        batches, self._batches = list(self._batches.values()), {}
        if conn.dialect.name == "postgresql" and batches:
            driver = conn.connection.driver_connection
            try:
                with driver.pipeline():  # type: ignore[union-attr]
                    self._write(conn, batches)
            except Exception:
                # A refused row aborts the pipeline before its COMMIT: the transaction is
                # left failed on the server, so end it here, whatever the caller does next.
                driver.rollback()  # type: ignore[union-attr]
                raise
            return
        self._write(conn, batches)

    @staticmethod
    def _write(conn: Connection, batches: list[Batch]) -> None:
        for table, rows in batches:
            _plain(table, tuple(rows[0])).run_many(conn, rows)
        conn.commit()

    def discard(self) -> None:
        self._batches.clear()


@cache
def _plain(table: Table, columns: tuple[str, ...]) -> Prepared:
    """The INSERT of these columns (every MO appends, so it runs through store.prepared)."""
    return Prepared(insert(table).values({name: bindparam(name) for name in columns}))
