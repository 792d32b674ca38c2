"""``vasguard shards``: the shard map, the catalogue's replication to it, and its lag.

The national database (``VASGUARD_DATABASE_URL``) is the only one the catalogue is
written on; ``setup`` makes every shard follow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from vasguard.cli.console import JsonOption, emit, fail, out, runtime, sub_app
from vasguard.domain.shards import Shard, ShardMap
from vasguard.store.engine import open_engine
from vasguard.store.migrate import check_schema, upgrade
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
    missing.
    """
    national, shard_map = _configured()
    engines = {s.name: open_engine(s.url) for s in shard_map.shards}
    try:
        with _answering("the national database"):
            require_publishable(national)
        for name, engine in engines.items():
            with _answering(f"shard {name}"):
                check_subscribable(engine, national, name)
        for name, engine in engines.items():
            with _answering(f"shard {name}"):
                upgrade(engine)
            out.print(f"shard {name}: schema up to date")
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
