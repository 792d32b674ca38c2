"""The scheduler, driven by a fixed clock: which job runs when, once, under its lock.

The schedule arithmetic (window openings, the 1st at the bill hour) needs no database;
the platform's jobs run against both stores, as ``serve`` runs them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

import pytest
from conftest import private_database
from sqlalchemy import select

from vasguard.bootstrap import Runtime
from vasguard.channels.metrics import REGISTRY
from vasguard.config import Settings
from vasguard.domain.clock import FixedClock, parse_instant
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput
from vasguard.process.jobs import MonthlyBilling, WindowOpenings, platform_jobs
from vasguard.process.scheduler import Checkpoint, Job, Scheduler, Stopping
from vasguard.store import tables
from vasguard.store.locks import holding, named_lock

ZONE = "Asia/Shanghai"
WINDOW = (time(8), time(22))
TICK = timedelta(seconds=30)


def local(text: str) -> datetime:
    return parse_instant(text, ZONE)


@contextmanager
def free(_name: str) -> Iterator[bool]:
    yield True


@contextmanager
def taken(_name: str) -> Iterator[bool]:
    yield False


def runs(job: str, result: str) -> float:
    return REGISTRY.get_sample_value("vasguard_jobs_total", {"job": job, "result": result}) or 0


class Recorder:
    """A job's work that records the instants it ran at, and fails when told to."""

    def __init__(self) -> None:
        self.at: list[datetime] = []
        self.fail_with: Exception | None = None

    def __call__(self, now: datetime, _checkpoint: Checkpoint) -> Mapping[str, object]:
        self.at.append(now)
        if self.fail_with is not None:
            raise self.fail_with
        return {"done": len(self.at)}


def every(name: str, work: Recorder, minutes: int) -> Job:
    return Job(name, work, lambda start: start, lambda ran: ran + timedelta(minutes=minutes))


def run_due(scheduler: Scheduler) -> dict[str, str]:
    return asyncio.run(scheduler.run_due())


# --- the schedule arithmetic ---------------------------------------------------------


def test_the_next_opening_is_strictly_after_and_the_earliest_of_the_zones():
    openings = WindowOpenings(frozenset({ZONE, "Asia/Urumqi"}), WINDOW)
    assert openings.next_after(local("2026-11-24T07:00")) == local("2026-11-24T08:00")
    # at the opening itself, the next one is tomorrow's
    assert openings.next_after(local("2026-11-24T08:00")) == local("2026-11-24T10:00")
    assert openings.next_after(local("2026-11-24T10:00")) == local("2026-11-25T08:00")
    assert WindowOpenings(frozenset(), WINDOW).next_after(local("2026-11-24T10:00")).year == 9999


def test_a_period_is_billed_on_the_1st_at_the_hour_local_time():
    billing = MonthlyBilling(ZONE, 3)
    nov, dec = Period.parse("2026-11"), Period.parse("2026-12")
    assert billing.instant(nov) == datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    assert billing.instant(dec) == local("2027-01-01T03:00")
    assert billing.latest(local("2026-12-01T02:59")) == Period.parse("2026-10")
    assert billing.latest(local("2026-12-01T03:00")) == nov
    assert billing.latest(local("2026-12-31T23:59")) == nov
    assert billing.latest(local("2027-01-01T03:00")) == dec


@pytest.mark.parametrize(
    ("start", "first"),
    [
        ("2026-12-01T02:59", "2026-12-01T03:00"),  # the hour is coming
        ("2026-12-01T03:00", "2026-12-01T03:00"),
        ("2026-12-02T02:59", "2026-12-01T03:00"),  # missed by less than a day: caught up
        ("2026-12-02T03:00", "2027-01-01T03:00"),  # missed longer: left to `jobs bill`
        ("2026-11-24T12:00", "2026-12-01T03:00"),
    ],
)
def test_a_started_process_first_bills_at_the_hour_or_catches_up_within_a_day(start, first):
    assert MonthlyBilling(ZONE, 3).first_due(local(start)) == local(first)


# --- the scheduler, with jobs of its own --------------------------------------------


def test_a_job_runs_when_due_and_then_every_interval():
    clock = FixedClock(local("2026-11-24T10:00"))
    fast, slow = Recorder(), Recorder()
    scheduler = Scheduler([every("fast", fast, 5), every("slow", slow, 60)], clock, free)
    assert run_due(scheduler) == {"fast": "ok", "slow": "ok"}
    clock.advance(timedelta(minutes=4))
    assert run_due(scheduler) == {}
    clock.advance(timedelta(minutes=1))
    assert run_due(scheduler) == {"fast": "ok"}
    assert fast.at == [local("2026-11-24T10:00"), local("2026-11-24T10:05")]
    assert slow.at == [local("2026-11-24T10:00")]
    assert scheduler.due_at("slow") == local("2026-11-24T11:00")


def test_a_failed_job_is_logged_and_retried_at_the_next_tick_and_the_others_go_on(caplog):
    clock = FixedClock(local("2026-11-24T10:00"))
    broken, fine = Recorder(), Recorder()
    broken.fail_with = RuntimeError("database went away")
    scheduler = Scheduler([every("broken", broken, 60), every("fine", fine, 60)], clock, free)
    before = runs("broken", "failed")
    assert run_due(scheduler) == {"broken": "failed", "fine": "ok"}
    assert runs("broken", "failed") == before + 1
    assert "database went away" in caplog.text
    assert scheduler.due_at("broken") == clock.now() + TICK
    clock.advance(TICK)
    broken.fail_with = None
    assert run_due(scheduler) == {"broken": "ok"}
    assert scheduler.due_at("broken") == clock.now() + timedelta(minutes=60)


def test_a_refusal_is_counted_as_refused_and_retried():
    clock = FixedClock(local("2026-11-24T10:00"))
    refusing = Recorder()
    refusing.fail_with = InvalidInput("not now")
    scheduler = Scheduler([every("refusing", refusing, 60)], clock, free)
    assert run_due(scheduler) == {"refusing": "refused"}
    assert scheduler.due_at("refusing") == clock.now() + TICK


def test_a_job_held_elsewhere_is_skipped_and_tried_a_tick_later():
    clock = FixedClock(local("2026-11-24T10:00"))
    work = Recorder()
    before = runs("held", "skipped")
    scheduler = Scheduler([every("held", work, 60)], clock, taken)
    assert run_due(scheduler) == {"held": "skipped"}
    assert work.at == [] and runs("held", "skipped") == before + 1
    assert scheduler.due_at("held") == clock.now() + TICK


@contextmanager
def unreachable(_name: str) -> Iterator[bool]:
    raise ConnectionError("the database does not answer")
    yield True  # pragma: no cover - a generator, as holding() is


def test_a_lock_that_cannot_be_taken_is_a_failed_run_retried_a_tick_later():
    clock = FixedClock(local("2026-11-24T10:00"))
    work = Recorder()
    scheduler = Scheduler([every("locked_out", work, 60)], clock, unreachable)
    assert run_due(scheduler) == {"locked_out": "failed"}
    assert work.at == [] and scheduler.due_at("locked_out") == clock.now() + TICK
    assert run_due(scheduler) == {}  # not retried at once: no tight loop


def test_stop_ends_a_job_after_its_committed_chunk_and_leaves_it_due():
    clock = FixedClock(local("2026-11-24T10:00"))
    chunks: list[int] = []
    in_chunk = threading.Event()

    def long_job(_now: datetime, checkpoint: Checkpoint) -> Mapping[str, object]:
        for n in range(1000):
            chunks.append(n)  # a chunk, committed
            in_chunk.set()
            checkpoint()
            threading.Event().wait(0.01)
        return {}

    async def scenario() -> str:
        job = Job("long", long_job, lambda s: s, lambda r: r + timedelta(hours=1))
        scheduler = Scheduler([job], clock, free)
        [task] = scheduler.start_due()
        await asyncio.to_thread(in_chunk.wait, 5)
        scheduler.stop()
        result = await asyncio.wait_for(task, 5)
        assert scheduler.start_due() == []  # stopped: nothing new starts
        assert scheduler.due_at("long") == clock.now()
        return result

    assert asyncio.run(scenario()) == "interrupted"
    assert 0 < len(chunks) < 1000


def test_the_loop_runs_due_jobs_until_stopped():
    clock = FixedClock(local("2026-11-24T10:00"))
    work = Recorder()

    async def scenario() -> None:
        scheduler = Scheduler([every("once", work, 60)], clock, free)
        loop = asyncio.create_task(scheduler.run())
        while not work.at:
            await asyncio.sleep(0.01)
        scheduler.stop()
        await asyncio.wait_for(loop, 5)

    asyncio.run(scenario())
    assert work.at == [clock.now()]


# --- the platform's jobs, on both stores --------------------------------------------


def platform(world, db_url: str, clock: FixedClock, hold=None, **settings) -> Scheduler:
    rt = Runtime(
        Settings(database_url=db_url, reminder_interval_minutes=30, **settings), fixed_clock=clock
    )
    return Scheduler(
        platform_jobs(rt, clock, {ZONE}),
        clock,
        hold or (lambda name: holding(world.engine, name)),
    )


def reminder_mts(world) -> list[dict]:
    return world.rows(tables.messages, tables.messages.c.kind == "reminder")


def test_the_reminder_job_runs_at_start_every_interval_and_when_the_window_opens(world, db_url):
    world.subscribe()  # confirmed at 10:00 on 24 November, not yet reminded
    clock = FixedClock(local("2026-11-24T21:50"))
    scheduler = platform(world, db_url, clock)
    assert run_due(scheduler)["reminders"] == "ok"
    assert len(reminder_mts(world)) == 1
    # 30 minutes on is 22:20, outside the window; next is the 08:00 opening, not 22:20
    assert scheduler.due_at("reminders") == local("2026-11-24T22:20")
    clock.at = local("2026-11-24T22:20")
    world.subscribe(msisdn="13800000002")
    assert run_due(scheduler)["reminders"] == "ok"
    assert len(reminder_mts(world)) == 1  # outside the window: waiting
    assert scheduler.due_at("reminders") == local("2026-11-24T22:50")
    clock.at = local("2026-11-25T07:50")
    run_due(scheduler)
    assert scheduler.due_at("reminders") == local("2026-11-25T08:00")
    clock.at = local("2026-11-25T08:00")
    assert run_due(scheduler)["reminders"] == "ok"
    assert len(reminder_mts(world)) == 2


def test_order_expiry_runs_from_the_scheduler(world, db_url):
    placed = world.order()
    clock = FixedClock(placed.confirm_by + timedelta(minutes=1))
    assert run_due(platform(world, db_url, clock))["expiry"] == "ok"
    [sub] = world.rows(tables.subscriptions)
    assert sub["state"] == "expired"


def bill_runs(world) -> list[dict]:
    return world.rows(tables.bill_runs)


def test_the_month_is_billed_once_on_the_1st_at_the_configured_hour(world, db_url):
    world.subscribe()
    clock = FixedClock(local("2026-12-01T02:59"))
    scheduler = platform(world, db_url, clock)
    assert "bill" not in run_due(scheduler)
    assert scheduler.due_at("bill") == local("2026-12-01T03:00")
    clock.at = local("2026-12-01T03:00")
    assert run_due(scheduler) == {"bill": "ok"}
    [run] = bill_runs(world)
    assert (run["period"], run["status"]) == ("2026-11", "finished")
    assert run["run_at"] == local("2026-12-01T03:00")
    assert scheduler.due_at("bill") == local("2027-01-01T03:00")
    clock.at = local("2026-12-01T05:00")
    assert "bill" not in run_due(scheduler)
    # a restart later that month looks, finds the period billed, and bills nothing again
    restarted = platform(world, db_url, clock)
    assert restarted.due_at("bill") == local("2026-12-01T03:00")
    assert run_due(restarted)["bill"] == "ok"
    assert len(bill_runs(world)) == 1
    assert restarted.due_at("bill") == local("2027-01-01T03:00")


def test_a_bill_run_missed_while_the_process_was_down_is_caught_up_as_of_its_hour(world, db_url):
    clock = FixedClock(local("2026-12-01T20:00"))
    assert run_due(platform(world, db_url, clock, bill_run_hour=6))["bill"] == "ok"
    [run] = bill_runs(world)
    assert run["period"] == "2026-11" and run["run_at"] == local("2026-12-01T06:00")


def test_a_job_locked_by_another_process_is_skipped(world, db_url):
    """Another process holds the reminder job: this one queues nothing and tries later."""
    world.subscribe()
    clock = FixedClock(local("2026-11-24T12:00"))
    other = named_lock(world.engine, "job-reminders")
    assert other.acquire()
    try:
        scheduler = platform(world, db_url, clock)
        assert run_due(scheduler)["reminders"] == "skipped"
        assert reminder_mts(world) == []
    finally:
        other.release()
    clock.advance(TICK)
    assert run_due(scheduler) == {"reminders": "ok"}
    assert len(reminder_mts(world)) == 1


def test_a_period_billed_by_hand_meanwhile_is_refused_and_retried(world, db_url):
    clock = FixedClock(local("2026-12-01T03:00"))
    with world.uow() as uow, uow.bill_runs.period_lock(Period.parse("2026-11")):
        scheduler = platform(world, db_url, clock)
        assert run_due(scheduler)["bill"] == "refused"
    clock.advance(TICK)
    assert run_due(scheduler)["bill"] == "ok"
    with world.engine.connect() as conn:
        assert conn.scalar(select(tables.bill_runs.c.status)) == "finished"


def test_a_bill_run_stopped_between_chunks_is_resumed_by_the_next_process(world, db_url):
    """The stop lands at the first checkpoint (after the run's record is committed): the
    run stays open, its period free, and the next process resumes it as of the same hour."""
    world.subscribe()
    clock = FixedClock(local("2026-12-01T03:30"))
    rt = Runtime(Settings(database_url=db_url), fixed_clock=clock)
    [bill] = [job for job in platform_jobs(rt, clock, {ZONE}) if job.name == "bill"]

    def stop_now() -> None:
        raise Stopping

    with pytest.raises(Stopping):
        bill.work(clock.now(), stop_now)
    [open_run] = bill_runs(world)
    assert open_run["status"] == "running"
    facts = bill.work(clock.now(), lambda: None)
    assert facts["resumed"] is True and facts["bill_runs"] == [open_run["id"]]
    [run] = bill_runs(world)
    assert run["status"] == "finished" and run["run_at"] == local("2026-12-01T03:00")


def test_a_named_lock_is_one_databases_even_on_a_shared_postgresql_server(tmp_path):
    """Advisory locks belong to the server: the lock key includes the database, so two
    deployments on one server (or two test workers) never hold each other's jobs."""
    with (
        private_database("postgresql", "locks_a", tmp_path) as a,
        private_database("postgresql", "locks_b", tmp_path) as b,
    ):
        held = named_lock(a, "job-reminders")
        assert held.acquire()
        try:
            with holding(a, "job-reminders") as free_on_a, holding(b, "job-reminders") as free_on_b:
                assert (free_on_a, free_on_b) == (False, True)
        finally:
            held.release()
        with holding(a, "job-reminders") as free_again:
            assert free_again
