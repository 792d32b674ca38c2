"""Plan (套餐) rules: when an order or change takes effect, and which orders are refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.periods import Period
from vasguard.domain.refusals import RefusedBecause


class PlanRefusal(StrEnum):
    UNKNOWN_PLAN = "unknown_plan"
    ALREADY_ON_PLAN = "already_on_plan"


class PlanRefused(RefusedBecause[PlanRefusal]):
    """A plan order that must change nothing, with a reason fit for the user."""


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    code: str
    name: str
    monthly_fee_fen: int

    @property
    def notice_name(self) -> str:
        """The name as notices say it: they add the word 套餐 themselves."""
        return self.name.removesuffix("套餐") or self.name


@dataclass(frozen=True, slots=True)
class SubscriberPlan:
    """One ``subscriber_plans`` row: a plan held (or to be held) over ``[start, end)``."""

    id: int
    plan_id: int
    effective_from: datetime
    effective_to: datetime | None


def first_of_next_month(at: datetime, zone: str) -> datetime:
    """Local midnight of the 1st of the month after ``at``, as aware UTC.

    Billing periods are calendar months in the deployment zone, so a plan starts with one.
    """
    return Period.of(at, zone).next().start


def month_start(at: datetime, zone: str) -> datetime:
    """Local midnight of the 1st of ``at``'s own month, as aware UTC."""
    return Period.of(at, zone).start


def plan_held_from(
    starts: datetime, current: SubscriberPlan | None, upcoming: SubscriberPlan | None
) -> int | None:
    """The plan id the subscriber would hold at ``starts`` with what is already ordered."""
    if upcoming is not None:
        return upcoming.plan_id
    if current is not None and (current.effective_to is None or current.effective_to > starts):
        return current.plan_id
    return None


def check_plan_order(
    plan: Plan, starts: datetime, current: SubscriberPlan | None, upcoming: SubscriberPlan | None
) -> None:
    """Ordering the plan one is already going to hold would only add noise: refuse it."""
    if plan_held_from(starts, current, upcoming) == plan.id:
        raise PlanRefused(
            PlanRefusal.ALREADY_ON_PLAN, f"the subscriber already has plan {plan.code}"
        )
