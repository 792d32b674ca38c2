"""The reminder job: charge reminders and "your plan takes effect" notices, set-wise.

A run at ``T`` acts only for provinces where ``T`` is inside the sending window (local
wall time, ``[start, end)``); elsewhere nothing is queued and the waiting rows are counted,
so the next run inside the window picks them up. Candidates are read in chunks by id, the
texts rendered per row, and each chunk's MTs inserted, subscriptions linked and events
written in one transaction. The link is guarded by ``reminder_mt_id IS NULL``, so a re-run
or a concurrent run never queues a reminder twice.

Queued reminders are due at once (``send_after = T``); the text says charging starts
after ``T + reminder_lead_time``, which the charging policy checks against the actual
send time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, CauseKind, Event
from vasguard.domain.messages import MessageKind, NewMt
from vasguard.domain.plans import month_start
from vasguard.domain.reminders import (
    ExemptService,
    PlanNoticeCandidate,
    ReminderCandidate,
)
from vasguard.domain.sending import in_window
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.unit_of_work import UnitOfWork

Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class ReminderRun:
    at: datetime
    queued: int
    waiting_outside_window: int
    plan_notices_queued: int
    plan_notices_waiting: int
    zones_outside_window: list[str] = field(default_factory=list)
    exempt: list[ExemptService] = field(default_factory=list)


def run_reminders(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    cause: Cause | None = None,
    chunk: int = 1000,
    progress: Progress | None = None,
) -> ReminderRun:
    """Queue every due charge reminder and plan-effective notice inside the sending window.

    Who is due is ``domain/reminders.py why_no_reminder``, which the store's SQL restates.
    """
    at = clock.now()
    cause = cause or Cause(CauseKind.JOB, f"reminders@{at.isoformat()}")
    report = progress or (lambda _stage, _done: None)
    with uow:
        zones = uow.reminders.zones()
        open_zones = {
            z
            for z in set(zones.values())
            if in_window(at.astimezone(ZoneInfo(z)).time(), deployment.sending_window)
        }
        inside = sorted(p for p, z in zones.items() if z in open_zones)
        outside = sorted(p for p, z in zones.items() if z not in open_zones)

        queued = after = 0
        while inside and (batch := uow.reminders.due(at, inside, after, chunk)):
            after = batch[-1].subscription_id
            queued += _queue_reminders(uow, deployment, zones, batch, at, cause)
            uow.commit()
            report("reminders", queued)

        since = month_start(at, deployment.timezone)
        notices = after = 0
        while inside and (
            plans := uow.plans.effective_notices_due(since, at, inside, after, chunk)
        ):
            after = plans[-1].subscriber_plan_id
            notices += _queue_effective_notices(uow, deployment, plans, at, cause)
            uow.commit()
            report("plan notices", notices)

        waiting = uow.reminders.count_due(at, outside) if outside else 0
        notices_waiting = (
            uow.plans.count_effective_notices_due(since, at, outside) if outside else 0
        )
        exempt = uow.reminders.exempt()
    return ReminderRun(
        at,
        queued,
        waiting,
        notices,
        notices_waiting,
        sorted(set(zones.values()) - open_zones),
        exempt,
    )


def _queue_reminders(
    uow: UnitOfWork,
    deployment: Deployment,
    zones: dict[str, str],
    batch: list[ReminderCandidate],
    at: datetime,
    cause: Cause,
) -> int:
    charge_at = at + deployment.reminder_lead_time
    notices: list[NewMt] = []
    for due in batch:
        zone = ZoneInfo(zones[due.subscriber.province])
        text = templates_for(deployment, due.subscriber).charge_reminder(
            ordered_at=due.ordered_at.astimezone(zone),
            provider=due.provider_name,
            service=due.service_name,
            service_code=due.service_code,
            price_fen=due.price_fen,
            charge_at=charge_at.astimezone(zone),
        )
        notices.append(
            NewMt(
                due.subscriber,
                deployment.service_number,
                MessageKind.REMINDER,
                text,
                at,
                subscription_id=due.subscription_id,
            )
        )
    message_ids = uow.messages.add_many(notices)
    uow.reminders.record(
        [(due.subscription_id, mt) for due, mt in zip(batch, message_ids, strict=True)], at
    )
    uow.events.add_many(
        Event(
            due.subscriber.id,
            due.subscriber.province,
            "subscription",
            due.subscription_id,
            "reminder_queued",
            cause,
            at,
            {"message": mt, "service": due.service_code, "charge_after": charge_at.isoformat()},
        )
        for due, mt in zip(batch, message_ids, strict=True)
    )
    return len(batch)


def _queue_effective_notices(
    uow: UnitOfWork,
    deployment: Deployment,
    batch: list[PlanNoticeCandidate],
    at: datetime,
    cause: Cause,
) -> int:
    zone = ZoneInfo(deployment.timezone)
    included = uow.plans.included_names([due.plan.id for due in batch])
    notices: list[NewMt] = []
    for due in batch:
        text = templates_for(deployment, due.subscriber).plan_effective(
            plan=due.plan.notice_name,
            fee_fen=due.plan.monthly_fee_fen,
            effective_date=due.effective_from.astimezone(zone).date(),
            included=included.get(due.plan.id, []),
        )
        notices.append(
            NewMt(due.subscriber, deployment.service_number, MessageKind.PLAN_EFFECTIVE, text, at)
        )
    message_ids = uow.messages.add_many(notices)
    uow.plans.record_effective_notices(
        [(due.subscriber_plan_id, mt) for due, mt in zip(batch, message_ids, strict=True)]
    )
    uow.events.add_many(
        Event(
            due.subscriber.id,
            due.subscriber.province,
            "subscriber_plan",
            due.subscriber_plan_id,
            "effective_notice_queued",
            cause,
            at,
            {"message": mt, "plan": due.plan.code},
        )
        for due, mt in zip(batch, message_ids, strict=True)
    )
    return len(batch)
