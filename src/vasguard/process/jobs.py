"""The platform's scheduled jobs and when each is due; the services do the work.

- ``reminders``: charge reminders and "your plan takes effect" notices (one service,
  ``run_reminders``), every ``reminder_interval_minutes`` and at each opening of the
  sending window in any province's zone, so nobody waits an interval past 08:00.
- ``expiry``: pending orders past their confirmation window, every
  ``expiry_interval_minutes``. Listings need no job: each carries its ``expires_at`` and
  only a subscriber's latest counts, so an old one simply stops being read.
- ``figures``: the dashboard's daily figures of the last ``figures_days`` days, every
  ``figures_interval_minutes``.
- ``bill``: the month that just ended, at ``bill_run_hour`` local time on the 1st. It is
  charged as of that instant (not of when it happens to run), so a run interrupted by a
  shutdown resumes the same run, and a period that already has a finished run is not
  billed again. A process that starts less than ``CATCH_UP`` after the hour (it was down,
  or was stopped in the middle of the run) bills the period then; one that starts later
  leaves that period to ``vasguard jobs bill`` — a new installation must not bill a
  month some other system may already have billed — and waits for the next 1st.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from vasguard.bootstrap import Runtime
from vasguard.domain.clock import Clock, FixedClock
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.periods import Period
from vasguard.domain.sending import Window, next_window_opening
from vasguard.process.scheduler import Checkpoint, Job
from vasguard.services.billing import BillRunSummary, run_bill
from vasguard.services.figures import recount_figures
from vasguard.services.orders import expire_orders
from vasguard.services.reminders import ReminderRun, run_reminders
from vasguard.services.shards import UowFactory, on_every_shard, results

_JUST_AFTER = timedelta(microseconds=1)
CATCH_UP = timedelta(days=1)


def platform_jobs(rt: Runtime, clock: Clock, zones: Iterable[str]) -> list[Job]:
    """The jobs ``serve`` runs; ``zones`` are the provinces' time zones (sending windows)."""
    s, deployment = rt.settings, rt.deployment
    openings = WindowOpenings(frozenset(zones), deployment.sending_window)
    billing = MonthlyBilling(deployment.timezone, s.bill_run_hour)
    reminder_every = timedelta(minutes=s.reminder_interval_minutes)
    expiry_every = timedelta(minutes=s.expiry_interval_minutes)
    figures_every = timedelta(minutes=s.figures_interval_minutes)

    def reminders(now: datetime, checkpoint: Checkpoint) -> Mapping[str, object]:
        def on(_shard: str, new_uow: UowFactory) -> ReminderRun:
            return run_reminders(
                new_uow(),
                FixedClock(now),
                deployment,
                cause=Cause(CauseKind.JOB, "scheduler:reminders"),
                progress=lambda _stage, _done: checkpoint(),
            )

        runs = _everywhere(rt, on)
        return {
            "queued": sum(r.queued for r in runs),
            "waiting_outside_window": sum(r.waiting_outside_window for r in runs),
            "plan_notices_queued": sum(r.plan_notices_queued for r in runs),
        }

    def expiry(now: datetime, _checkpoint: Checkpoint) -> Mapping[str, object]:
        cause = Cause(CauseKind.JOB, "scheduler:expiry")
        expired = _everywhere(
            rt, lambda _s, new_uow: expire_orders(new_uow(), FixedClock(now), cause=cause)
        )
        return {"expired": sum(expired)}

    def figures(now: datetime, _checkpoint: Checkpoint) -> Mapping[str, object]:
        done = _everywhere(
            rt,
            lambda _s, new_uow: recount_figures(
                new_uow(), FixedClock(now), deployment, s.figures_days
            ),
        )
        return {"first_day": done[0].days.first.isoformat(), "rows": sum(d.rows for d in done)}

    def bill(now: datetime, checkpoint: Checkpoint) -> Mapping[str, object]:
        period = billing.latest(now)

        def on(_shard: str, new_uow: UowFactory) -> BillRunSummary | None:
            with new_uow() as uow:
                if uow.bill_runs.finished(period):
                    return None
            return run_bill(
                new_uow(),
                FixedClock(billing.instant(period)),
                deployment,
                str(period),
                wall_clock=clock,
                progress=lambda _done, _total: checkpoint(),
            )

        made = [m for m in _everywhere(rt, on) if m is not None]
        if not made:
            return {"period": str(period), "already_billed": True}
        return {
            "period": str(period),
            "bill_runs": [m.run_id for m in made],
            "resumed": any(m.resumed for m in made),
            "charged": sum(m.total_charged for m in made),
            "charged_fen": sum(m.total_fen for m in made),
        }

    return [
        Job(
            "reminders",
            reminders,
            first_at=lambda start: start,
            next_at=lambda ran: min(ran + reminder_every, openings.next_after(ran)),
        ),
        Job(
            "expiry",
            expiry,
            first_at=lambda start: start,
            next_at=lambda ran: ran + expiry_every,
        ),
        Job(
            "figures",
            figures,
            first_at=lambda start: start,
            next_at=lambda ran: ran + figures_every,
        ),
        Job(
            "bill",
            bill,
            first_at=billing.first_due,
            next_at=lambda ran: billing.instant(Period.of(ran, deployment.timezone)),
        ),
    ]


T = TypeVar("T")


def _everywhere(rt: Runtime, work: Callable[[str, UowFactory], T]) -> list[T]:
    """``work`` on every shard at once; what stopped one is raised once all have run (the
    scheduler logs it; the job's next run resumes it while the others' work stands)."""
    return results(on_every_shard(rt.shard_uows(), work, parallel=rt.settings.shard_parallelism))


@dataclass(frozen=True, slots=True)
class WindowOpenings:
    """When the sending window next opens in any of ``zones``."""

    zones: frozenset[str]
    window: Window

    def next_after(self, at: datetime) -> datetime:
        """The first opening strictly after ``at`` (far off when there are no zones)."""
        return min(
            (next_window_opening(at + _JUST_AFTER, z, self.window) for z in self.zones),
            default=datetime.max.replace(tzinfo=UTC),
        )


@dataclass(frozen=True, slots=True)
class MonthlyBilling:
    """A period is billed at ``hour`` local time on the 1st of the month after it."""

    zone: str
    hour: int

    def instant(self, period: Period) -> datetime:
        after = period.next()
        local = datetime.combine(date(after.year, after.month, 1), time(self.hour))
        return local.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    def latest(self, at: datetime) -> Period:
        """The last period whose billing instant is at or before ``at``."""
        previous = _before(Period.of(at, self.zone))
        return previous if self.instant(previous) <= at else _before(previous)

    def first_due(self, start: datetime) -> datetime:
        """When a process started at ``start`` first bills: at once if the last billing
        instant passed less than ``CATCH_UP`` ago, else at the next one."""
        period = self.latest(start)
        last = self.instant(period)
        return last if start - last < CATCH_UP else self.instant(period.next())


def _before(period: Period) -> Period:
    year, month = (period.year - 1, 12) if period.month == 1 else (period.year, period.month - 1)
    return Period(year, month, period.zone)
