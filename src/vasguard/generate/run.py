"""``generate``: fill an empty, migrated database with a realistic, reproducible dataset.

Subscribers are produced and written in chunks, one transaction per chunk, so memory stays
bounded whatever the size. SQLite is written with ``executemany`` of the Core insert;
PostgreSQL with ``COPY``; both from the very same row dicts.
"""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from random import Random
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, func, select, text

from vasguard.domain.msisdn import load_provinces, load_segments
from vasguard.generate.catalogue import Catalogue, build_catalogue
from vasguard.generate.customers import Chunk, CustomerFactory, Row
from vasguard.generate.numbering import NumberPlan
from vasguard.services.deployment import Deployment
from vasguard.store import tables
from vasguard.store.types import UtcDateTime

Progress = Callable[[str, int, int], None]

# Rows are built and written for this many subscribers at a time, inside a chunk's one
# transaction, so that the rows held in memory stay bounded whatever the chunk size.
BUILD_BATCH = 2_000

# Tables that must be empty before generating: the catalogue and everything customer-side.
_MUST_BE_EMPTY = (
    tables.providers,
    tables.services,
    tables.plans,
    tables.subscribers,
    tables.subscriptions,
    tables.messages,
    tables.listings,
)


class GenerationError(RuntimeError):
    """The generator cannot run against this database or with these arguments."""


@dataclass(frozen=True, slots=True)
class GenerationSummary:
    """Rows written per table, and how long it took."""

    provinces: int
    providers: int
    services: int
    plans: int
    plan_services: int
    subscribers: int
    subscriber_plans: int
    subscriptions: int
    messages: int
    listings: int
    listing_items: int
    events: int
    elapsed_seconds: float
    # Seconds spent writing each table (the rest of the elapsed time is building rows).
    write_seconds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Rows per table name."""
        return {
            k: v for k, v in asdict(self).items() if k not in ("elapsed_seconds", "write_seconds")
        }

    @property
    def rows(self) -> int:
        return sum(self.counts().values())


class _Writer(Protocol):
    def write(self, conn: Connection, table: Table, rows: list[Row]) -> None: ...


@dataclass(slots=True)
class _Tally:
    """Counts rows and write time per table as a writer stores them."""

    writer: _Writer
    rows: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def write(self, conn: Connection, table: Table, rows: list[Row]) -> None:
        started = time.perf_counter()
        self.writer.write(conn, table, rows)
        elapsed = time.perf_counter() - started
        self.seconds[table.name] = self.seconds.get(table.name, 0.0) + elapsed
        self.rows[table.name] += len(rows)


class _SqliteWriter:
    """``executemany`` of the Core insert, values converted by the columns' own types.

    Same SQL and stored values as ``conn.execute(table.insert(), rows)``, without Core's
    per-row parameter bookkeeping, which costs more than SQLite's own work here.
    """

    def write(self, conn: Connection, table: Table, rows: list[Row]) -> None:
        if not rows:
            return
        compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(rows[0]))
        names = list(compiled.positiontup or ())
        converters = [
            (i, processor)
            for i, name in enumerate(names)
            if (processor := table.c[name].type.bind_processor(conn.dialect)) is not None
        ]

        def values(row: Row) -> tuple[Any, ...]:
            out = [row[name] for name in names]
            for i, processor in converters:
                out[i] = processor(out[i])
            return tuple(out)

        conn.exec_driver_sql(compiled.string, [values(row) for row in rows])


class _CopyWriter:
    """PostgreSQL ``COPY FROM STDIN``; timestamps go in as naive UTC, as UtcDateTime stores."""

    def write(self, conn: Connection, table: Table, rows: list[Row]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        stamps = [isinstance(table.c[name].type, UtcDateTime) for name in columns]
        statement = f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN'
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        value.replace(tzinfo=None) if stamp and value is not None else value
                        for value, stamp in zip(row.values(), stamps, strict=True)
                    ]
                )


def generate(
    engine: Engine,
    *,
    subscribers: int,
    seed: int,
    at: datetime,
    chunk_size: int = 10_000,
    progress: Progress | None = None,
    deployment: Deployment | None = None,
) -> GenerationSummary:
    """Generate the catalogue and ``subscribers`` subscribers with their history before ``at``.

    Messages are what ``deployment`` (default: the default one) would have sent. The same
    ``seed`` and ``at`` give identical rows (whatever ``chunk_size``). Refuses a database
    that already holds a catalogue or customers.
    """
    if at.tzinfo is None:
        raise GenerationError("`at` must be an aware UTC datetime")
    if subscribers < 0:
        raise GenerationError("the number of subscribers cannot be negative")
    if chunk_size < 1:
        raise GenerationError("chunk_size must be at least 1")
    started = time.perf_counter()
    report = progress or (lambda _stage, _done, _total: None)
    provinces = load_provinces()
    numbers = NumberPlan(load_segments(), Random(f"vasguard:{seed}:numbers"))
    if subscribers > numbers.size:
        raise GenerationError(f"the number segments hold only {numbers.size} subscribers")
    tally = _Tally(_CopyWriter() if engine.dialect.name == "postgresql" else _SqliteWriter())

    with engine.begin() as conn:
        _refuse_unless_empty(conn)
        catalogue = build_catalogue(Random(f"vasguard:{seed}:catalogue"), provinces)
        _write_catalogue(conn, tally, catalogue, chunk_size, report)

    factory = CustomerFactory(
        catalogue, numbers, provinces, Random(f"vasguard:{seed}:customers"), at, deployment
    )
    done = 0
    report("subscribers", done, subscribers)
    with _catalogue_frozen(), engine.connect() as conn:
        while done < subscribers:
            count = min(chunk_size, subscribers - done)
            with conn.begin():
                for start in range(0, count, BUILD_BATCH):
                    _write_chunk(conn, tally, factory.chunk(min(BUILD_BATCH, count - start)))
            done += count
            report("subscribers", done, subscribers)

    # A bulk load leaves the planner without statistics; online queries need them.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            _reset_sequences(conn)
        detail = {
            "seed": seed,
            "subscribers": subscribers,
            "rows": dict(sorted(tally.rows.items())),
        }
        conn.execute(
            tables.events.insert().values(
                entity="dataset",
                kind="generated",
                cause_kind="job",
                cause_ref=f"generate:{seed}",
                at=at,
                detail=json.dumps(detail, ensure_ascii=False),
            )
        )
    rows = tally.rows
    return GenerationSummary(
        provinces=rows["provinces"],
        providers=rows["providers"],
        services=rows["services"],
        plans=rows["plans"],
        plan_services=rows["plan_services"],
        subscribers=rows["subscribers"],
        subscriber_plans=rows["subscriber_plans"],
        subscriptions=rows["subscriptions"],
        messages=rows["messages"],
        listings=rows["listings"],
        listing_items=rows["listing_items"],
        events=1,
        elapsed_seconds=time.perf_counter() - started,
        write_seconds=dict(tally.seconds),
    )


@contextmanager
def _catalogue_frozen() -> Iterator[None]:
    """Keep the cyclic collector off the catalogue while customers are built.

    The catalogue's hundreds of thousands of objects live through the whole run; the row
    dicts of each batch trigger full collections, and each would traverse the catalogue
    again. Frozen (``gc.freeze``), it is skipped; it is handed back when the run ends.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _write_chunk(conn: Connection, tally: _Tally, chunk: Chunk) -> None:
    tally.write(conn, tables.subscribers, chunk.subscribers)
    tally.write(conn, tables.subscriber_plans, chunk.subscriber_plans)
    tally.write(conn, tables.messages, chunk.messages)
    tally.write(conn, tables.subscriptions, chunk.subscriptions)
    tally.write(conn, tables.listings, chunk.listings)
    tally.write(conn, tables.listing_items, chunk.listing_items)


def _refuse_unless_empty(conn: Connection) -> None:
    for table in _MUST_BE_EMPTY:
        if conn.execute(select(1).select_from(table).limit(1)).first() is not None:
            raise GenerationError(
                f"database already holds data (table {table.name} is not empty); "
                "generate into an empty database"
            )


def _write_catalogue(
    conn: Connection, tally: _Tally, catalogue: Catalogue, batch: int, report: Progress
) -> None:
    # Provinces may already have been loaded by ``db init``; add only what is missing.
    present = set(conn.execute(select(tables.provinces.c.code)).scalars())
    province_rows: list[Row] = [
        {"code": p.code, "name": p.name, "name_en": p.name_en, "timezone": p.timezone}
        for p in load_provinces()
        if p.code not in present
    ]
    tally.write(conn, tables.provinces, province_rows)
    tally.write(conn, tables.providers, catalogue.provider_rows())
    report("catalogue", 0, catalogue.service_count)
    for rows in catalogue.service_rows(batch):
        tally.write(conn, tables.services, rows)
        report("catalogue", tally.rows["services"], catalogue.service_count)
    tally.write(conn, tables.plans, catalogue.plan_rows())
    tally.write(conn, tables.plan_services, catalogue.plan_service_rows())


def _reset_sequences(conn: Connection) -> None:
    """Ids were assigned here; move each id sequence past them so later inserts work."""
    for table in tables.metadata.sorted_tables:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        next_id = conn.execute(select(func.coalesce(func.max(table.c.id), 0) + 1)).scalar_one()
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :next_id, false)"),
            {"table": table.name, "next_id": next_id},
        )
