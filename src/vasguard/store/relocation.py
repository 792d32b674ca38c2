"""Customers between databases: the id ranges that make rows portable, the copy, the delete.

Which tables are a subscriber's (``CUSTOMER_TABLES``) is derived from the schema: every
table but those that are someone else's:

* the catalogue (``replication.CATALOGUE``): national, replicated to every shard;
* national only: ``api_keys``, ``idempotency_keys`` (a key's requests), ``console_sessions``
  (a staff login), ``webhooks`` (a partner's endpoint), ``ported_numbers`` (routing) and
  ``partner_feed_counter`` (the feed's one order of seqs over the shards);
* the database's own work, never a subscriber's: ``bill_runs`` (a run's cursor is this
  database's ids), ``daily_figures`` (recounted from the rows where they are),
  ``unmatched_receipts`` and ``mo_fragments`` (the SMS link's, keyed by SMSC ids).

Every customer table carries ``subscriber_id`` (``subscribers``: ``id``) and ``province``.
A row whose ``subscriber_id`` is NULL (an MO from an unknown number, its refusal's event)
belongs to no subscriber and is never copied or deleted.

Rows are copied verbatim, ids and all: ``claim_id_range`` gives every shard's id
sequences a range of their own, so an id copied in never meets one made there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Any, cast

import psycopg
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Table,
    and_,
    column,
    delete,
    exists,
    func,
    select,
    table,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from vasguard.domain.refusals import Refused
from vasguard.domain.shards import ID_RANGE, Addressed
from vasguard.store import tables
from vasguard.store.replication import CATALOGUE

NATIONAL_ONLY = (
    tables.api_keys,
    tables.idempotency_keys,
    tables.console_sessions,
    tables.webhooks,
    tables.partner_feed_counter,
    tables.ported_numbers,
)
PER_DATABASE = (
    tables.bill_runs,
    tables.daily_figures,
    tables.unmatched_receipts,
    tables.mo_fragments,
)
_NOT_CUSTOMERS = frozenset(CATALOGUE + NATIONAL_ONLY + PER_DATABASE)

# Foreign-key order: a row's parent is copied before it and deleted after it.
CUSTOMER_TABLES: tuple[Table, ...] = tuple(
    t for t in tables.metadata.sorted_tables if t not in _NOT_CUSTOMERS
)

# Rows fetched (server-side cursor on PostgreSQL) and inserted (one executemany) at a time.
CHUNK = 5_000

# Told (table, rows so far, whether the table is done): after each chunk and each table.
Progress = Callable[[str, int, bool], None]

MOVING_EVENT = "subscriber.moving"
MOVED_EVENT = "subscriber.moved"

# PostgreSQL's view of its backends, for waiting out the transactions older than a mark.
_activity = table(
    "pg_stat_activity",
    column("pid"),
    column("datname"),
    column("xact_start"),
)


def _owner(t: Table) -> Column[int]:
    return t.c.id if t is tables.subscribers else t.c.subscriber_id


def _whose(
    t: Table, subscriber_ids: Collection[int] | None, provinces: Collection[str] | None
) -> ColumnElement[bool]:
    if (subscriber_ids is None) == (provinces is None):
        raise ValueError("name either the subscribers or the provinces whose rows to take")
    owner = _owner(t)
    if subscriber_ids is not None:
        return owner.in_(list(subscriber_ids))
    return and_(owner.is_not(None), t.c.province.in_(sorted(provinces or ())))


def copy_customers(
    source: Connection,
    target: Connection,
    *,
    subscriber_ids: Collection[int] | None = None,
    provinces: Collection[str] | None = None,
    province: str | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Copy the rows of ``subscriber_ids`` (or of every subscriber of ``provinces``) from
    ``source`` to ``target``, table by table in foreign-key order; rows copied per table.

    Memory stays bounded whatever the size. Provinces from PostgreSQL to PostgreSQL (a
    split) go by COPY, the source's binary stream piped block by block into the target's;
    otherwise (a move's few rows, a SQLite source) a server-side cursor reads ``CHUNK``
    rows at a time and one executemany writes each chunk. ``province`` gives the rows a
    new province (a ported number). A partner event keeps its ``seq``: seqs come from one
    national counter (``services/sharded_feed``), so it meets none on the target, and a
    partner who read it is not told it again.
    Both transactions are the caller's: read ``source`` in one snapshot (REPEATABLE READ)
    for a copy consistent across tables.
    """
    copied: dict[str, int] = {}
    piped = province is None and subscriber_ids is None and _both_postgresql(source, target)
    for t in CUSTOMER_TABLES:
        if piped:
            copied[t.name] = _piped(source, target, t, _whose(t, None, provinces))
            if progress is not None:
                progress(t.name, copied[t.name], True)
            continue
        changed: dict[str, object] = {}
        if province is not None:
            changed["province"] = province
        rows = source.execution_options(yield_per=CHUNK).execute(
            select(t).where(_whose(t, subscriber_ids, provinces)).order_by(*t.primary_key)
        )
        count = 0
        for chunk in rows.partitions():
            target.execute(t.insert(), [{**row._mapping, **changed} for row in chunk])
            count += len(chunk)
            if progress is not None:
                progress(t.name, count, False)
        if progress is not None:
            progress(t.name, count, True)
        copied[t.name] = count
    return copied


def _both_postgresql(source: Connection, target: Connection) -> bool:
    return source.dialect.name == target.dialect.name == "postgresql"


def _piped(source: Connection, target: Connection, t: Table, where: ColumnElement[bool]) -> int:
    """COPY out of ``source`` piped into COPY into ``target`` (binary: both schemas are
    this code's, column for column); rows copied."""
    query = select(t).where(where).compile(source, compile_kwargs={"literal_binds": True})
    quote = target.dialect.identifier_preparer.quote
    columns = ", ".join(quote(c.name) for c in t.columns)
    reader, writer = _psycopg(source).cursor(), _psycopg(target).cursor()
    with (
        reader.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as rows,
        writer.copy(f"COPY {quote(t.name)} ({columns}) FROM STDIN (FORMAT binary)") as into,
    ):
        for block in rows:
            into.write(block)
    count: int = writer.rowcount
    return count


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn`` (in its transaction), for its COPY."""
    return cast("psycopg.Connection[Any]", conn.connection.driver_connection)


def count_customers(
    conn: Connection,
    *,
    subscriber_ids: Collection[int] | None = None,
    provinces: Collection[str] | None = None,
) -> dict[str, int]:
    """Rows per customer table of ``subscriber_ids`` or of ``provinces``' subscribers."""
    return {
        t.name: conn.scalar(
            select(func.count()).select_from(t).where(_whose(t, subscriber_ids, provinces))
        )
        or 0
        for t in CUSTOMER_TABLES
    }


def delete_customers(conn: Connection, subscriber_ids: Collection[int]) -> dict[str, int]:
    """Delete every row of ``subscriber_ids``, children before parents; rows per table."""
    ids = list(subscriber_ids)
    return {
        t.name: conn.execute(delete(t).where(_owner(t).in_(ids))).rowcount
        for t in reversed(CUSTOMER_TABLES)
    }


_KEYS: dict[Addressed, Column[Any]] = {
    Addressed.SUBSCRIPTION: tables.subscriptions.c.id,
    Addressed.CHARGE: tables.charges.c.id,
    Addressed.COMPLAINT: tables.complaints.c.ticket,
    Addressed.BILL_RUN: tables.bill_runs.c.id,
}


def holds(conn: Connection, kind: Addressed, key: int | str) -> bool:
    """Whether this database holds the row ``kind`` names by ``key`` (a unique-index probe)."""
    return bool(conn.scalar(select(exists().where(_KEYS[kind] == key))))


def holds_customers(conn: Connection) -> bool:
    return bool(conn.scalar(select(exists().select_from(tables.subscribers))))


def claim_id_range(conn: Connection, shard_number: int) -> int:
    """Start each customer table's id sequence, and the bill runs', at ``shard_number *
    ID_RANGE`` unless it is there or past it already; how many sequences were moved (0 when
    run again). A bill run's id then names its shard too (``/bill-runs/{id}``).

    Only PostgreSQL: the sequence behind each ``id`` is asked of ``pg_get_serial_sequence``.
    """
    start = shard_number * ID_RANGE
    moved = 0
    for t in (*CUSTOMER_TABLES, tables.bill_runs):
        if list(t.primary_key.columns) != [t.c.get("id")]:
            continue  # listing_items: keyed by its listing, no sequence of its own
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": t.name}
        ).scalar()
        if sequence is None:
            continue
        # ``sequence`` is the catalog's own, quoted name: safe to place in the statement.
        last = conn.execute(text(f"SELECT last_value FROM {sequence}")).scalar_one()
        if last >= start:
            continue
        conn.execute(text("SELECT setval(:s, :start, false)"), {"s": sequence, "start": start})
        moved += 1
    return moved


class SplitRefused(Refused):
    """The split cannot be made as asked; nothing was changed."""

    code = "split_refused"


ShardProgress = Callable[[str, str, int, bool], None]


def split_customers(
    source: Engine,
    targets: Mapping[str, tuple[Engine, Collection[str]]],
    progress: ShardProgress | None = None,
) -> dict[str, dict[str, int]]:
    """Copy ``source``'s customers onto the shards, each the rows of its provinces; rows
    per shard and table. Every shard must hold no customer yet (checked before anything
    is copied). The source is read in one snapshot; each shard is written in one
    transaction, so a split cut short leaves every shard either whole or empty."""
    for name, (engine, _) in targets.items():
        if engine.url == source.url:
            raise SplitRefused(f"shard {name} is the database to split itself")
        with engine.connect() as conn:
            if holds_customers(conn):
                raise SplitRefused(
                    f"shard {name} holds customers already: a split fills empty shards only"
                )
    copied: dict[str, dict[str, int]] = {}
    with source.connect() as src:
        if src.dialect.name == "postgresql":
            src.execution_options(isolation_level="REPEATABLE READ")
        with src.begin():
            for name, (engine, provinces) in targets.items():
                told = None if progress is None else partial(progress, name)
                with engine.begin() as dst:
                    copied[name] = copy_customers(src, dst, provinces=provinces, progress=told)
    return copied
