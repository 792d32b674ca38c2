"""One bill run per period at a time, on SQLite and PostgreSQL.

Two runs of one period would both work the same subscriptions: the unique (subscription,
period) keeps the ledger right, but both record summaries of charges the other made and
both end ``finished``. So the first takes the period for the whole run and the second is
refused. (A crashed run's hold not blocking its resume is in ``test_bill_crash.py``.)
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import BOB, CAROL, World
from sqlalchemy import Engine
from test_billing import NEWS, WEATHER, Desk

from vasguard.domain.charging import PeriodBeingBilled
from vasguard.domain.clock import FixedClock, parse_instant
from vasguard.domain.periods import Period
from vasguard.services.billing import BillRunSummary, run_bill
from vasguard.store import tables
from vasguard.store.engine import open_engine
from vasguard.store.tables import metadata
from vasguard.store.uow import SqlUnitOfWork

NOV, DEC = Period.parse("2026-11"), Period.parse("2026-12")
WAIT = 30  # seconds; only reached when something is broken


def held_one_at_a_time(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        runs = uow.bill_runs
        with runs.period_lock(NOV):
            refused = pytest.raises(PeriodBeingBilled, match="period 2026-11 is being billed")
            with refused, runs.period_lock(NOV):
                pass
            with runs.period_lock(DEC):
                pass
        with runs.period_lock(NOV):
            pass


def test_a_period_is_held_by_one_run_at_a_time(engine):
    held_one_at_a_time(engine)


def test_an_in_memory_database_is_held_within_the_process():
    engine = open_engine("sqlite://")
    metadata.create_all(engine)
    held_one_at_a_time(engine)
    engine.dispose()


def test_a_second_run_of_the_period_is_refused_while_the_first_holds_it(world: World, db_url):
    """The first run pauses after its first chunk; the second, started meanwhile, is refused
    and writes nothing; the first finishes with a summary equal to the ledger.

    The second run has an engine of its own, as a second process would: threads sharing a
    SQLite engine queue on its writer lock (``store.engine``) instead of meeting at the
    period's.
    """
    desk = Desk(world)
    desk.subscribe(BOB, NEWS)
    desk.subscribe(CAROL, WEATHER)
    desk.remind()
    clock = FixedClock(parse_instant("2026-12-01T02:00:00"))
    paused, go_on = threading.Event(), threading.Event()

    def pause_after_the_first_chunk(done: int, _total: int) -> None:
        if done == 1:
            paused.set()
            assert go_on.wait(WAIT)

    def bill(engine: Engine, **options: Any) -> BillRunSummary:
        return run_bill(
            SqlUnitOfWork(engine),
            clock,
            world.deployment,
            "2026-11",
            wall_clock=clock,
            chunk=1,
            **options,
        )

    outcome: list[BillRunSummary | BaseException] = []

    def first_run() -> None:
        try:
            outcome.append(bill(world.engine, progress=pause_after_the_first_chunk))
        except BaseException as exc:
            outcome.append(exc)
            paused.set()

    thread = threading.Thread(target=first_run)
    thread.start()
    assert paused.wait(WAIT) and not outcome, outcome
    second = open_engine(db_url)
    try:
        [running] = world.rows(tables.bill_runs)
        with pytest.raises(PeriodBeingBilled) as refused:
            bill(second)
        detail = str(refused.value)
        assert f"period 2026-11 is being billed by bill run {running['id']}" in detail
        assert "wait for it to finish, then run the bill again" in detail
        assert world.rows(tables.bill_runs) == [running]
    finally:
        go_on.set()
        thread.join(WAIT)
        second.dispose()

    [summary] = outcome
    assert isinstance(summary, BillRunSummary), summary
    charges = world.rows(tables.charges)
    assert {c["bill_run_id"] for c in charges} == {summary.run_id}
    assert summary.charged == {"first": 2, "plan": 1}
    assert (summary.total_charged, summary.total_fen) == (
        len(charges),
        sum(c["amount_fen"] for c in charges),
    )
    [run] = world.rows(tables.bill_runs)
    assert (run["status"], run["charged_count"], run["charged_fen"]) == ("finished", 3, 6300)

    again = bill(world.engine)
    assert again.total_charged == 0 and again.skipped["already_charged"] == 3
    assert len(world.rows(tables.charges)) == 3
    assert [r["status"] for r in world.rows(tables.bill_runs)] == ["finished", "finished"]
