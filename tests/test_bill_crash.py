"""A bill run killed with SIGKILL at random points, then resumed, charges exactly what an
uninterrupted run charges: on SQLite and PostgreSQL, with the CLI in its own process. The
killed run's hold on its period dies with it, so nothing keeps the resume from starting."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from conftest import BOB, CAROL, World
from sqlalchemy import Engine, delete, select
from test_billing import NEWS, WEATHER, Desk

from vasguard.domain.charging import PeriodBeingBilled
from vasguard.domain.clock import FixedClock, parse_instant
from vasguard.domain.periods import Period
from vasguard.generate import generate
from vasguard.services.audit import audit_period
from vasguard.services.billing import BillRunSummary, run_bill
from vasguard.services.deployment import Deployment
from vasguard.store import tables
from vasguard.store.uow import SqlUnitOfWork

AT = datetime(2026, 11, 24, 2, tzinfo=UTC)
VASGUARD = str(Path(sys.executable).parent / "vasguard")
BILL = ["jobs", "bill", "--period", "2026-11", "--at", "2026-11-24T10:00:00"]
C = tables.charges


def bill(db_url: str, chunk: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"VASGUARD_DATABASE_URL": db_url}
    return subprocess.Popen(
        [VASGUARD, *BILL, "--chunk", str(chunk), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def ledger(engine: Engine) -> set[tuple]:
    """The charges, without the ids that differ between two runs."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(
                    C.c.subscription_id,
                    C.c.subscriber_plan_id,
                    C.c.period,
                    C.c.kind,
                    C.c.amount_fen,
                    C.c.confirmation_mo_id,
                    C.c.reminder_mt_id,
                    C.c.reminder_status,
                    C.c.created_at,
                )
            ).all()
        )


def released(engine: Engine, period: str = "2026-11") -> None:
    """Wait until no run holds ``period``: at once on SQLite (the kernel closed the killed
    process's lock file), a moment later on PostgreSQL (the server notices the client is gone
    and ends its session)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with SqlUnitOfWork(engine) as uow, uow.bill_runs.period_lock(Period.parse(period)):
                return
        except PeriodBeingBilled:
            assert time.monotonic() < deadline, "a killed bill run still holds its period"
            time.sleep(0.05)


def cursor_of_running(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(tables.bill_runs.c.cursor).where(tables.bill_runs.c.status == "running")
        )


def test_killed_bill_runs_resume_to_the_uninterrupted_charges(engine, db_url):
    generate(engine, subscribers=2000, seed=11, at=AT)
    assert bill(db_url, 5000).wait(timeout=120) == 0
    reference = ledger(engine)
    kinds = {row[3] for row in reference}
    assert kinds == {"first", "renewal", "plan"} and len(reference) > 2000

    with engine.begin() as conn:
        conn.execute(delete(C))
        conn.execute(delete(tables.bill_runs))

    rng = random.Random(db_url)
    killed_mid_run = 0
    for _ in range(3):
        process = bill(db_url, 25)
        deadline = time.monotonic() + 60
        while process.poll() is None and not cursor_of_running(engine):
            assert time.monotonic() < deadline, "the bill run never got going"
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.wait(timeout=60)
        released(engine)
    assert killed_mid_run >= 2
    partial = ledger(engine)
    assert 0 < len(partial) < len(reference) or killed_mid_run < 3

    finish = bill(db_url, 25)
    assert finish.wait(timeout=120) == 0
    assert ledger(engine) == reference
    with engine.connect() as conn:
        runs = conn.execute(select(tables.bill_runs)).all()
    assert [r.status for r in runs] == ["finished"]
    assert runs[0].charged_count == len(reference)
    report = audit_period(SqlUnitOfWork(engine), Deployment(), "2026-11")
    assert report.passed, report.violations[:5]


# Runs the bill of 2026-11 on the database named by argv[1], a subscriber per chunk, and
# stops for good once the first chunk is committed: to be killed there.
PAUSING_RUN = """
import sys, time
from vasguard.domain.clock import FixedClock, parse_instant
from vasguard.services.billing import run_bill
from vasguard.services.deployment import Deployment
from vasguard.store.engine import open_engine
from vasguard.store.uow import SqlUnitOfWork

def pause(done, total):
    if done:
        print("paused", flush=True)
        time.sleep(600)

clock = FixedClock(parse_instant(sys.argv[2]))
run_bill(SqlUnitOfWork(open_engine(sys.argv[1])), clock, Deployment(), "2026-11",
         wall_clock=clock, chunk=1, progress=pause)
"""


def test_a_killed_runs_hold_on_the_period_does_not_block_its_resume(world: World, db_url):
    desk = Desk(world)
    desk.subscribe(BOB, NEWS)
    desk.subscribe(CAROL, WEATHER)
    desk.remind()
    at = "2026-12-01T02:00:00"
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSING_RUN, db_url, at], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "paused\n"
    finally:
        process.kill()
        process.wait(timeout=60)
    [killed] = world.rows(tables.bill_runs)
    assert (killed["status"], killed["cursor"], killed["charged_count"]) == ("running", 1, 1)

    released(world.engine)
    clock = FixedClock(parse_instant(at))
    summary: BillRunSummary = run_bill(
        world.uow(), clock, world.deployment, "2026-11", wall_clock=clock, chunk=1
    )
    assert summary.resumed and summary.run_id == killed["id"]
    assert summary.charged == {"first": 2, "plan": 1} and summary.total_fen == 6300
    assert summary.total_charged == len(world.rows(C))
    [run] = world.rows(tables.bill_runs)
    assert (run["status"], run["charged_count"], run["charged_fen"]) == ("finished", 3, 6300)
