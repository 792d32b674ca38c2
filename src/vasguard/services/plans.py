"""Plan (套餐) orders and changes, each announced to the subscriber by the service number.

A plan order takes effect on the 1st of next month in the deployment zone (billing periods
are months there). With a plan in force it is a change: the current plan ends at that same
instant, and a plan ordered earlier but not yet in force is replaced (kept as an empty
interval). The "plan ordered/changed" notice is queued at once but, not being a reply to
an MO, obeys the subscriber's sending window: outside it, it waits for the next opening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from vasguard.domain.access import Principal
from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, Event
from vasguard.domain.ledger import PlanOrderLink
from vasguard.domain.messages import MessageKind
from vasguard.domain.plans import (
    PlanRefusal,
    PlanRefused,
    check_plan_order,
    first_of_next_month,
)
from vasguard.domain.subscription import Channel
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.messaging import notice_due, queue_mt
from vasguard.services.orders import find_subscriber
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class PlanOrdered:
    subscriber_plan_id: int
    msisdn: str
    plan_code: str
    changed: bool
    effective_from: datetime
    effective_date: date
    notice_message_id: int
    notice_text: str
    notice_send_after: datetime


def order_plan(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    msisdn: str,
    plan_code: str,
    channel: Channel,
    cause: Cause,
    principal: Principal | None = None,
) -> PlanOrdered:
    """Order a plan (or change to it) from next month and queue the notice.

    Raises ``UnknownSubscriber``, ``InvalidMsisdn`` or ``PlanRefused``; then nothing changes.
    """
    at = clock.now()
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        plan = uow.plans.by_code(plan_code.strip())
        if plan is None:
            raise PlanRefused(PlanRefusal.UNKNOWN_PLAN, f"there is no plan with code {plan_code!r}")
        uow.plans.lock_subscriber(subscriber.id)
        starts = first_of_next_month(at, deployment.timezone)
        current = uow.plans.current(subscriber.id, at)
        upcoming = uow.plans.upcoming(subscriber.id, at)
        check_plan_order(plan, starts, current, upcoming[-1] if upcoming else None)

        def record(entity_id: int, kind: str, **detail: object) -> None:
            uow.events.add(
                Event(
                    subscriber.id,
                    subscriber.province,
                    "subscriber_plan",
                    entity_id,
                    kind,
                    cause,
                    at,
                    dict(detail),
                )
            )

        if current is not None and (current.effective_to is None or current.effective_to > starts):
            uow.plans.end(current.id, starts)
            record(current.id, "plan_ending", effective_to=starts.isoformat())
        for replaced in upcoming:
            uow.plans.supersede(replaced.id)
            record(replaced.id, "plan_replaced")
        new_id = uow.plans.add(
            subscriber_id=subscriber.id,
            province=subscriber.province,
            plan_id=plan.id,
            effective_from=starts,
            ordered_at=at,
            channel=channel.value,
        )
        changed = current is not None or bool(upcoming)
        effective_date = starts.astimezone(ZoneInfo(deployment.timezone)).date()
        text = templates_for(deployment, subscriber).plan_ordered(
            plan=plan.notice_name,
            fee_fen=plan.monthly_fee_fen,
            effective_date=effective_date,
            changed=changed,
        )
        due = notice_due(uow, deployment, subscriber, at)
        message_id = queue_mt(
            uow,
            deployment,
            subscriber,
            kind=MessageKind.PLAN_CHANGED if changed else MessageKind.PLAN_ORDERED,
            text=text,
            at=at,
            send_after=due,
        )
        uow.plans.set_order_notice(new_id, message_id)
        record(
            new_id,
            MessageKind.PLAN_CHANGED if changed else MessageKind.PLAN_ORDERED,
            plan=plan.code,
            channel=channel.value,
            effective_from=starts.isoformat(),
            notice=message_id,
        )
        uow.commit()
    return PlanOrdered(
        new_id,
        subscriber.msisdn,
        plan.code,
        changed,
        starts,
        effective_date,
        message_id,
        text,
        due,
    )


def plan_history(uow: UnitOfWork, msisdn: str, principal: Principal | None) -> list[PlanOrderLink]:
    """The plans a number has ordered, newest first, for care to read beside its
    subscriptions; a number out of the principal's scope is unknown."""
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        return uow.plans.history(subscriber.id)
