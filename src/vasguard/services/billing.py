"""The bill run of a period: charge what is owed, chunk by chunk, resumable and idempotent.

Each chunk of subscribers is charged and recorded as done (``bill_runs.cursor``) in one
transaction, so a run killed at any point resumes after the last committed chunk, and the
unique (subscription, period) keeps a re-run from charging anything twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vasguard.domain.charging import ChargingPolicy, FirstMonth, Kind, Skip, check_run_time
from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, CauseKind, Event
from vasguard.domain.periods import Period
from vasguard.services.deployment import Deployment
from vasguard.store.billing import BillingRepository, Eligibility, Run
from vasguard.store.uow import UnitOfWork

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
    exempt: list[dict[str, Any]] = field(default_factory=list)

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
    progress: Progress | None = None,
) -> BillRunSummary:
    """Bill ``period`` as of ``clock.now()``; ``wall_clock`` only stamps start and end.

    Raises ``ValueError`` for a malformed period or one that has not begun.
    """
    if chunk < 1:
        raise ValueError("the chunk size must be at least 1")
    billed = Period.parse(period, deployment.timezone)
    run_at = clock.now()
    check_run_time(billed, run_at)
    with uow:
        repo = BillingRepository(uow.conn)
        run = repo.open_run(billed, run_at, policy_for(deployment), wall_clock.now())
        if not run.resumed:
            uow.events.add(_event(run, "bill_run_started", wall_clock.now(), billed))
        uow.commit()
        rules = Eligibility(billed, run_at, run.policy)
        summary = run.summary or {"charged": {}, "skipped": {}}
        last = repo.last_subscriber_id()
        cursor = run.cursor
        if progress is not None:
            progress(min(cursor, last), last)
        while cursor < last:
            hi = min(cursor + chunk, last)
            counts = repo.charge_chunk(run.id, rules, cursor, hi)
            _tally(summary, counts.outcomes, counts.charged)
            repo.save_progress(run, hi, summary)
            uow.commit()
            cursor = hi
            if progress is not None:
                progress(cursor, last)
        summary["exempt"] = repo.exempt_charged(run.id)
        repo.finish(run, wall_clock.now(), summary)
        uow.events.add(_event(run, "bill_run_finished", wall_clock.now(), billed))
        uow.commit()
    return BillRunSummary(
        run.id,
        str(billed),
        run_at,
        run.resumed,
        {kind: n for kind, (n, _) in summary["charged"].items()},
        {kind: fen for kind, (_, fen) in summary["charged"].items()},
        dict(summary["skipped"]),
        summary["exempt"],
    )


def _tally(
    summary: dict[str, Any], outcomes: dict[str, int], charged: dict[str, tuple[int, int]]
) -> None:
    """Fold one chunk in: what was owed but not charged now had been charged before."""
    totals: dict[str, list[int]] = summary.setdefault("charged", {})
    skipped: dict[str, int] = summary.setdefault("skipped", {})
    kinds = {k.value for k in Kind}
    for name, count in outcomes.items():
        if name in kinds:
            made, fen = charged.get(name, (0, 0))
            before = totals.get(name, [0, 0])
            totals[name] = [before[0] + made, before[1] + fen]
            if count > made:
                already = Skip.ALREADY_CHARGED.value
                skipped[already] = skipped.get(already, 0) + count - made
        else:
            skipped[name] = skipped.get(name, 0) + count


def _event(run: Run, kind: str, at: datetime, period: Period) -> Event:
    return Event(
        None,
        None,
        "bill_run",
        run.id,
        kind,
        Cause(CauseKind.JOB, f"bill_run:{run.id}"),
        at,
        {"period": str(period), "run_at": run.run_at.isoformat()},
    )
