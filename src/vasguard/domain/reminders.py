"""Who gets a charge reminder, and the rows the reminder job acts on.

A charge reminder tells the subscriber that money is about to move, so it goes only where
the charging policy (``domain/charging.py``, ``assess``) would go on to charge once it has
been sent: never for a service nothing is charged for, never for one the subscriber's plan
pays for. ``tests/domain/test_reminders.py`` holds ``why_no_reminder`` to ``assess``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.plans import Plan
from vasguard.domain.subscription import State


class NoReminder(StrEnum):
    """Why a subscription gets no charge reminder now, in the order the reasons are tested."""

    NOT_ACTIVE = "not_active"
    NO_MONTHLY_FEE = "no_monthly_fee"
    GROUP_PAID = "group_paid"
    ALREADY_REMINDED = "already_reminded"
    EXEMPT = "exempt"
    SUBSCRIBER_NOT_ACTIVE = "subscriber_not_active"
    IN_PLAN = "in_plan"


# The reasons that hold for as long as the service stays as it is: ``assess`` skips such a
# subscription (NO_MONTHLY_FEE, GROUP_PAID) in every period, so a reminder would be false.
NEVER_CHARGED = frozenset({NoReminder.NO_MONTHLY_FEE, NoReminder.GROUP_PAID})


@dataclass(frozen=True, slots=True)
class ReminderFacts:
    """What the stored rows say about one subscription at the job's instant."""

    state: State
    reminded: bool
    billing_mode: str
    price_fen: int
    group_paid: bool
    exempt: bool
    subscriber_status: str
    # The subscriber's plan in force at the job's instant includes the service.
    in_plan: bool


def why_no_reminder(facts: ReminderFacts) -> NoReminder | None:
    """Why the subscription is not reminded now, or ``None`` when its reminder is due.

    * Only an active subscription: it was confirmed (the life cycle reaches ``active`` only
      by confirmation, and the schema demands its evidence) and has not ended.
    * Not a service ``assess`` never charges: not monthly or priced 0 fen (NO_MONTHLY_FEE),
      or paid by a group (GROUP_PAID). Its reminder would announce a charge that never comes.
    * Once: a subscription already reminded is not reminded again.
    * Not an exempt service: it is charged from confirmation, without a reminder.
    * Not while the subscriber is suspended or closed: the reminder waits until the number
      is active again, and so does the first charge (``assess``: AWAITING_REMINDER).
    * Not while the plan in force includes the service (``assess``: IN_PLAN): the plan pays
      for it. Should the plan stop including it, a later run reminds it then.

    The reminder job does not call this per row: ``store/reminders.py _awaiting_reminder``
    restates it in SQL, and ``test_the_job_reminds_exactly_whom_the_predicate_names``
    (``tests/test_reminders.py``) holds the two together on both stores.
    """
    if facts.state is not State.ACTIVE:
        return NoReminder.NOT_ACTIVE
    if facts.billing_mode != "monthly" or facts.price_fen <= 0:
        return NoReminder.NO_MONTHLY_FEE
    if facts.group_paid:
        return NoReminder.GROUP_PAID
    if facts.reminded:
        return NoReminder.ALREADY_REMINDED
    if facts.exempt:
        return NoReminder.EXEMPT
    if facts.subscriber_status != "active":
        return NoReminder.SUBSCRIBER_NOT_ACTIVE
    if facts.in_plan:
        return NoReminder.IN_PLAN
    return None


@dataclass(frozen=True, slots=True)
class ReminderCandidate:
    """A subscription whose charge reminder is due, with what its text says."""

    subscription_id: int
    subscriber: Subscriber
    ordered_at: datetime
    service_code: str
    service_name: str
    provider_name: str
    price_fen: int


@dataclass(frozen=True, slots=True)
class PlanNoticeCandidate:
    """A plan that has taken effect and is not yet announced ("your plan takes effect").

    Suspended subscribers get the notice, closed ones do not (``store/plans.py`` says why).
    """

    subscriber_plan_id: int
    subscriber: Subscriber
    plan: Plan
    effective_from: datetime


@dataclass(frozen=True, slots=True)
class ExemptService:
    """A reminder-exempt service with active subscriptions, and why it is exempt."""

    code: str
    name: str
    provider: str
    reason: str
    subscriptions: int
