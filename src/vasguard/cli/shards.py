"""``vasguard shards``: the shard map, the catalogue's replication to it, and its lag.

The national database (``VASGUARD_DATABASE_URL``) is the only one the catalogue is
written on; ``setup`` makes every shard follow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from vasguard.cli.console import (
    AtOption,
    JsonOption,
    MsisdnOption,
    cli_cause,
    emit,
    err,
    fail,
    out,
    runtime,
    sub_app,
)
from vasguard.domain.shards import ID_RANGE, Shard, ShardMap
from vasguard.store.engine import open_engine
from vasguard.store.migrate import check_schema, upgrade
from vasguard.store.moves import move_subscriber
from vasguard.store.relocation import claim_id_range, split_customers
from vasguard.store.replication import (
    CATALOGUE,
    PUBLICATION,
    SubscriptionState,
    check_subscribable,
    publish_catalogue,
    replication_status,
    require_publishable,
    subscribe_catalogue,
)

# A split prints a line per table when it is done, and on the way each time this many more
# rows are copied (row by row: a COPY says its count at the end).
PROGRESS_EVERY = 100_000

app = sub_app("The subscriber shards and the catalogue replicated to them.")


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _provinces(shard: Shard) -> str:
    return ", ".join(sorted(shard.provinces))


@contextmanager
def _answering(where: str) -> Iterator[None]:
    """A database that cannot be reached or refuses a statement: one line naming it."""
    try:
        yield
    except DBAPIError as failed:
        reason = str(failed.orig or failed).strip().splitlines()[0]
        fail(f"{where}: {reason}")


def _configured() -> tuple[Engine, ShardMap]:
    with _answering("the national database"):
        rt = runtime(check_schema=False)  # the shards' own schemas are setup's to migrate
        check_schema(rt.engine)
    if not rt.shard_map.configured:
        fail(
            "no shards are configured (one database holds everything): "
            "set VASGUARD_SHARDS or [[shards]] in the configuration file"
        )
    return rt.engine, rt.shard_map


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The shards and the provinces each holds (passwords hidden)."""
    shard_map = runtime(check_schema=False).shard_map
    rows = [
        {"name": s.name, "url": _shown(s.url), "provinces": sorted(s.provinces)}
        for s in shard_map.shards
    ]

    def human() -> None:
        if not shard_map.configured:
            out.print("no shards configured: one database holds every province")
        for shard in shard_map.shards:
            out.print(f"{shard.name:<12} {_shown(shard.url)}  {_provinces(shard)}", soft_wrap=True)

    emit(as_json, {"configured": shard_map.configured, "shards": rows}, human)


@app.command("setup")
def setup() -> None:
    """Migrate every shard, publish the catalogue nationally and subscribe each shard.

    Everything is checked before anything is changed; run again, it changes only what is
    missing. Each shard's ids start at its own 10^14 (the k-th shard's at k * 10^14), so
    a subscriber's rows move between shards with their ids.
    """
    national, shard_map = _configured()
    engines = {s.name: open_engine(s.url) for s in shard_map.shards}
    try:
        with _answering("the national database"):
            require_publishable(national)
        for name, engine in engines.items():
            with _answering(f"shard {name}"):
                check_subscribable(engine, national, name)
        for number, (name, engine) in enumerate(engines.items(), 1):
            with _answering(f"shard {name}"):
                upgrade(engine)
                with engine.begin() as conn:
                    moved = claim_id_range(conn, number)
            out.print(f"shard {name}: schema up to date")
            already = "" if moved else " (already)"
            out.print(f"shard {name}: ids from {number * ID_RANGE}{already}")
        with _answering("the national database"):
            changed = publish_catalogue(national)
        state = "published" if changed else "already published"
        out.print(f"national: {PUBLICATION} {state} ({len(CATALOGUE)} tables)")
        for shard in shard_map.shards:
            with _answering(f"shard {shard.name}"):
                made = subscribe_catalogue(engines[shard.name], national, shard.name)
            state = "subscribed" if made else "already subscribed"
            out.print(f"shard {shard.name} ({_provinces(shard)}): {state}", soft_wrap=True)
    finally:
        for engine in engines.values():
            engine.dispose()


@app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Each shard's provinces, subscription state and lag; exit 1 unless all stream."""
    national, shard_map = _configured()
    with _answering("the national database"):
        found = replication_status(national, shard_map.shards)

    def human() -> None:
        for row in found:
            lag = "" if row.lag_bytes is None else f"  lag {row.lag_bytes} B"
            if row.lag_seconds is not None:
                lag += f" {row.lag_seconds:.1f} s"
            why = f"  ({row.detail})" if row.detail else ""
            line = f"{row.shard:<12} {row.state.value:<11}{lag}{why}  {', '.join(row.provinces)}"
            out.print(line, soft_wrap=True)

    emit(as_json, {"shards": [asdict(row) for row in found]}, human)
    if any(row.state is not SubscriptionState.STREAMING for row in found):
        raise typer.Exit(1)


@app.command("split")
def split(
    source: Annotated[
        str, typer.Option("--from", metavar="URL", help="the single database to split")
    ],
) -> None:
    """Copy a single database's customers onto the empty shards, each its provinces' rows
    (ids kept); the catalogue reaches the shards by ``setup``, not by this."""
    _, shard_map = _configured()
    rt = runtime(check_schema=False)
    try:
        from_engine = open_engine(source)
    except ArgumentError:
        fail(f"--from {source!r} is not a database URL (postgresql://host/db, sqlite:///file)")
    with _answering("the database to split"):
        check_schema(from_engine)
    with _answering("a shard"):
        rt.check_schema()
    marks: dict[tuple[str, str], int] = {}

    def told(shard: str, table: str, rows: int, done: bool) -> None:
        if done or rows // PROGRESS_EVERY > marks.get((shard, table), 0):
            marks[(shard, table)] = rows // PROGRESS_EVERY
            err.print(f"shard {shard}: {table} {rows:,} rows{'' if done else '…'}")

    targets = {s.name: (rt.shard_engines[s.name], s.provinces) for s in shard_map.shards}
    try:
        with _answering("the split"):
            copied = split_customers(from_engine, targets, told)
    finally:
        from_engine.dispose()
        rt.dispose()
    for name, rows in copied.items():
        shown = ", ".join(f"{table} {n:,}" for table, n in rows.items() if n)
        out.print(f"shard {name}: {sum(rows.values()):,} rows ({shown})", soft_wrap=True)


@app.command("move")
def move(
    msisdn: MsisdnOption,
    to: Annotated[str, typer.Option("--to", metavar="SHARD", help="the shard to move it to")],
    province: Annotated[
        str | None,
        typer.Option(help="its new province (one of SHARD's); needed if SHARD holds several"),
    ] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a ported number's subscriber, with all its history, to another shard.

    Its MOs and requests meanwhile are refused as temporary (503, ESME_RX_T_APPN) and
    taken on the new shard when sent again. Run again after a crash, it finishes the move.
    """
    national, shard_map = _configured()
    rt = runtime()
    try:
        with _answering("the move"):
            moved = move_subscriber(
                national,
                rt.shard_engines,
                shard_map,
                msisdn=msisdn,
                to=to,
                province=province,
                at=rt.clock(at).now(),
                cause=cli_cause(),
            )
    finally:
        rt.dispose()

    def human() -> None:
        again = " (resumed)" if moved.resumed else ""
        out.print(
            f"{moved.msisdn}: moved from shard {moved.source} to {moved.target}, province "
            f"{moved.province}{again}; {sum(moved.rows.values())} rows",
            soft_wrap=True,
        )

    emit(as_json, moved, human)
