"""The bill run of a period: charge what is owed, chunk by chunk, resumable and idempotent.

Each chunk of subscribers is charged and recorded as done (``bill_runs.cursor``) in one
transaction, so a run killed at any point resumes after the last committed chunk, and the
unique (subscription, period) keeps a re-run from charging anything twice. A run holds its
period from start to finish, so a second run of it is refused instead of working the same
subscriptions and recording a second, wrong summary; the hold dies with a crashed run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from vasguard.domain.charging import (
    BillRun,
    ChargingPolicy,
    ExemptCharged,
    FirstMonth,
    check_run_time,
)
from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, CauseKind, Event
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork

DEFAULT_CHUNK = 20_000

Progress = Callable[[int, int], None]


def policy_for(deployment: Deployment) -> ChargingPolicy:
    return ChargingPolicy(
        lead_time=deployment.reminder_lead_time,
        require_delivery_receipt=deployment.require_delivery_receipt,
        first_month=FirstMonth(deployment.first_month),
    )


@dataclass(frozen=True, slots=True)
class BillRunSummary:
    run_id: int
    period: str
    run_at: datetime
    resumed: bool
    charged: dict[str, int]
    charged_fen: dict[str, int]
    skipped: dict[str, int]
    exempt: list[ExemptCharged] = field(default_factory=list)

    @property
    def total_charged(self) -> int:
        return sum(self.charged.values())

    @property
    def total_fen(self) -> int:
        return sum(self.charged_fen.values())


def run_bill(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    period: str,
    *,
    wall_clock: Clock,
    chunk: int = DEFAULT_CHUNK,
    simulate: bool = False,
    progress: Progress | None = None,
    cause: Cause | None = None,
    started: Callable[[BillRun], None] | None = None,
) -> BillRunSummary:
    """Bill ``period`` as of ``clock.now()``; ``wall_clock`` says what time it really is.

    Everything is checked before anything is written: a malformed or out-of-range period,
    a chunk below 1, an instant before the period (``InvalidInput``); a period that has not
    begun by the wall clock, or an instant later than it (``NotBillableYet``, unless
    ``simulate``: tests, demos and benchmarks replaying a month); another run holding the
    period (``PeriodBeingBilled``).

    ``started`` is told of the run once its record is committed (the API answers with it
    while the run goes on); ``cause`` is who started it, recorded in the run's events
    (default: the run itself, as the scheduler and the CLI start it).
    """
    if chunk < 1:
        raise InvalidInput("the chunk size must be at least 1")
    billed = Period.parse(period, deployment.timezone)
    run_at = clock.now()
    check_run_time(billed, run_at, now=wall_clock.now(), simulate=simulate)
    policy = policy_for(deployment)
    with uow, uow.bill_runs.period_lock(billed):
        runs = uow.bill_runs
        run = runs.open_run(billed, run_at, policy, wall_clock.now())
        if not run.resumed:
            uow.events.add(_event(run, "bill_run_started", wall_clock.now(), billed, cause))
        uow.commit()
        if started is not None:
            started(run)
        tally = run.tally
        last = runs.last_subscriber_id()
        cursor = run.cursor
        if progress is not None:
            progress(min(cursor, last), last)
        while cursor < last:
            hi = min(runs.chunk_end(cursor, chunk) or last, last)
            tally = tally.add(runs.charge_chunk(run, cursor, hi))
            runs.save_progress(run, hi, tally)
            uow.commit()
            cursor = hi
            if progress is not None:
                progress(cursor, last)
        exempt = runs.exempt_charged(run.id)
        runs.finish(run, wall_clock.now(), tally, exempt)
        uow.events.add(_event(run, "bill_run_finished", wall_clock.now(), billed, cause))
        uow.commit()
    return BillRunSummary(
        run.id,
        str(billed),
        run_at,
        run.resumed,
        {kind.value: made.count for kind, made in tally.charged.items()},
        {kind.value: made.fen for kind, made in tally.charged.items()},
        {skip.value: count for skip, count in tally.skipped.items()},
        exempt,
    )


def _event(
    run: BillRun, kind: str, at: datetime, period: Period, cause: Cause | None = None
) -> Event:
    return Event(
        None,
        None,
        "bill_run",
        run.id,
        kind,
        cause or Cause(CauseKind.JOB, f"bill_run:{run.id}"),
        at,
        {"period": str(period), "run_at": run.run_at.isoformat()},
    )
