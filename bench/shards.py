"""Benchmark three shards against the same data in one database, on this machine.

    .venv/bin/python scripts/rehearse-shards --subscribers 300000 --keep   # once
    .venv/bin/python bench/shards.py --runs 3

It uses what the rehearsal left running: three PostgreSQL clusters on ports 5441–5443,
the national database and the shards ``vg_east`` (with it), ``vg_north``, ``vg_west``, and
the staging database that holds the same customers alone. Figures, per run:

- **bill run**: a month charged over the three shards at once (``on_every_shard``, a
  thread and a connection per shard) against the same month in the staging database —
  charges/s both ways and the ratio (a new simulated month each run, so each run charges);
- **national dashboard** (90 days): the shards asked in parallel and summed
  (``services/national.py``, what the code does) against ``postgres_fdw`` foreign tables of
  the shards' ``daily_figures`` on the national database, one grouped query over their
  ``UNION ALL`` (built here, measured only), and against the one database;
- **dialogue**: ``0000`` MOs from random subscribers of all provinces, in batches of 50,
  taken by ``receive_routed`` (each shard its own group commit) against ``receive_mos``
  on the one database — MOs/s, in this process (no SMSC).

The three clusters share this machine's two cores, so the ratio says what parallel shards
cost and gain here, not what three servers would give.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.clock import FixedClock, SystemClock
from vasguard.domain.figures import Days
from vasguard.services import national
from vasguard.services.billing import BillRunSummary, run_bill
from vasguard.services.figures import recount_figures
from vasguard.services.intake import IncomingMo, receive_mos, receive_routed
from vasguard.services.shards import UowFactory, on_every_shard
from vasguard.store.tables import daily_figures

PROVINCES = {
    "east": ["31", "32", "33", "34", "35", "36", "37", "44", "45", "46"],
    "north": ["11", "12", "13", "14", "15", "21", "22", "23", "41", "42", "43"],
    "west": ["50", "51", "52", "53", "54", "61", "62", "63", "64", "65"],
}
PORTS = {"east": 5441, "north": 5442, "west": 5443}
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # noon in Shanghai, the rehearsal's day


def url(port: int, database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"


def runtimes() -> tuple[Runtime, Runtime]:
    shards = [
        {"name": n, "url": url(PORTS[n], f"vg_{n}"), "provinces": PROVINCES[n]} for n in PORTS
    ]
    clock = FixedClock(NOW)
    sharded = Runtime(
        Settings(database_url=url(5441, "vg_national"), shards=json.dumps(shards)),
        fixed_clock=clock,
    )
    alone = Runtime(Settings(database_url=url(5441, "vg_staging")), fixed_clock=clock)
    return sharded, alone


def analyse(engines: list[Engine]) -> None:
    for engine in engines:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def bill(sharded: Runtime, alone: Runtime, month: int) -> dict[str, float]:
    period = f"2027-{month:02d}"
    at = datetime(2027, month, 1, 20, 0, tzinfo=UTC)  # the 2nd, 04:00 in Shanghai

    def on(_name: str, new_uow: UowFactory) -> BillRunSummary:
        return run_bill(
            new_uow(),
            FixedClock(at),
            sharded.deployment,
            period,
            wall_clock=SystemClock(),
            simulate=True,
        )

    started = time.perf_counter()
    outcomes = on_every_shard(sharded.shard_uows(), on, parallel=3)
    over = time.perf_counter() - started
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    charged = sum(o.result.total_charged for o in outcomes if o.result)
    started = time.perf_counter()
    single = run_bill(
        alone.uow(),
        FixedClock(at),
        alone.deployment,
        period,
        wall_clock=SystemClock(),
        simulate=True,
    )
    one = time.perf_counter() - started
    assert single.total_charged == charged, (single.total_charged, charged)
    return {
        "charges": charged,
        "shards_per_s": charged / over,
        "one_per_s": charged / one,
        "ratio": one / over,
    }


FDW_VIEW = "national_daily_figures"


def build_fdw(sharded: Runtime) -> None:
    """Foreign tables of each shard's daily_figures on the national database, and their
    UNION ALL (idempotent)."""
    with sharded.engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgres_fdw"))
        arms = []
        for name, port in PORTS.items():
            conn.execute(
                text(
                    f"CREATE SERVER IF NOT EXISTS fdw_{name} FOREIGN DATA WRAPPER postgres_fdw "
                    f"OPTIONS (host '127.0.0.1', port '{port}', dbname 'vg_{name}', "
                    "fetch_size '10000', use_remote_estimate 'true')"
                )
            )
            conn.execute(
                text(
                    f"CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER fdw_{name} "
                    "OPTIONS (user 'postgres')"
                )
            )
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS shard_{name}"))
            conn.execute(text(f"DROP FOREIGN TABLE IF EXISTS shard_{name}.daily_figures CASCADE"))
            conn.execute(
                text(
                    f"IMPORT FOREIGN SCHEMA public LIMIT TO (daily_figures) "
                    f"FROM SERVER fdw_{name} INTO shard_{name}"
                )
            )
            arms.append(f"SELECT * FROM shard_{name}.daily_figures")
        conn.execute(text(f"CREATE OR REPLACE VIEW {FDW_VIEW} AS " + " UNION ALL ".join(arms)))


# Every figure column of daily_figures (not the key, held or the stamp), summed.
SUMS = ", ".join(
    f"sum({c.name})"
    for c in daily_figures.c
    if c.name not in ("day", "province", "provider_id", "held", "refreshed_at")
)
# The dashboard's three reads (``store/figures.py``) as SQL over the foreign tables.
BY_DAY = (
    f"SELECT day, {SUMS} FROM {{table}} WHERE day BETWEEN :first AND :last "
    "AND province = '00' AND provider_id = -1 GROUP BY day ORDER BY day"
)
BY_PROVIDER = (
    f"SELECT provider_id, {SUMS} FROM {{table}} WHERE day BETWEEN :first AND :last "
    "AND province = '00' AND provider_id > 0 GROUP BY provider_id "
    "ORDER BY sum(orders) DESC LIMIT 20"
)
BY_PROVINCE = (
    f"SELECT province, {SUMS} FROM {{table}} WHERE day BETWEEN :first AND :last "
    "AND province <> '00' AND provider_id = -1 GROUP BY province"
)


def dashboard(sharded: Runtime, alone: Runtime, repeats: int) -> dict[str, float]:
    days = Days.ending(NOW, "Asia/Shanghai", 90)
    window = {"first": days.first.isoformat(), "last": days.last.isoformat()}

    def timed(work: Callable[[], object]) -> float:
        took = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            took.append(time.perf_counter() - started)
        return statistics.median(took) * 1000

    def over_fdw() -> None:
        with sharded.engine.connect() as conn:
            for sql in (BY_DAY, BY_PROVIDER, BY_PROVINCE):
                conn.execute(text(sql.format(table=FDW_VIEW)), window).all()

    return {
        "merge_ms": timed(lambda: national.dashboard(sharded.shard_readers(), days)),
        "fdw_ms": timed(over_fdw),
        "one_ms": timed(lambda: national.dashboard(alone.shard_readers(), days)),
    }


def dialogue(sharded: Runtime, alone: Runtime, mos: int) -> dict[str, float]:
    with alone.engine.connect() as conn:
        numbers = list(
            conn.scalars(
                text(
                    "SELECT msisdn FROM subscribers WHERE status = 'active' "
                    "ORDER BY random() LIMIT :n"
                ),
                {"n": mos},
            )
        )
    batches = [numbers[n : n + 50] for n in range(0, len(numbers), 50)]
    clock = FixedClock(NOW)
    rng = random.Random(7)

    def taken(route: Callable[[list[IncomingMo]], object]) -> float:
        started = time.perf_counter()
        for batch in batches:
            route([IncomingMo(m, "10086", "0000") for m in batch])
        return len(numbers) / (time.perf_counter() - started)

    over = taken(lambda b: receive_routed(sharded, clock, sharded.deployment, b, rng=rng))
    one = taken(lambda b: receive_mos(alone.uow, clock, alone.deployment, b, rng=rng))
    return {"shards_mo_per_s": over, "one_mo_per_s": one, "ratio": over / one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--first-month", type=int, default=1, help="2027's month the first run bills (1-9)"
    )
    parser.add_argument("--mos", type=int, default=2000, help="MOs per dialogue run")
    parser.add_argument("--repeats", type=int, default=20, help="dashboard queries per run")
    args = parser.parse_args()
    sharded, alone = runtimes()
    engines = [alone.engine, *sharded.shard_engines.values()]
    for rt in (sharded, alone):
        for new_uow in rt.shard_uows().values():
            recount_figures(new_uow(), FixedClock(NOW), rt.deployment, 90)
    build_fdw(sharded)
    analyse([sharded.engine, *engines])
    for run in range(1, args.runs + 1):
        figures = {
            "run": run,
            **{
                f"bill_{k}": round(v, 2)
                for k, v in bill(sharded, alone, args.first_month + run - 1).items()
            },
            **{
                f"dash_{k}": round(v, 1) for k, v in dashboard(sharded, alone, args.repeats).items()
            },
            **{f"mo_{k}": round(v, 1) for k, v in dialogue(sharded, alone, args.mos).items()},
        }
        print(json.dumps(figures), flush=True)
        analyse(engines)
    sharded.dispose()
    alone.dispose()


if __name__ == "__main__":
    main()
