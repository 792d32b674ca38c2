"""The charging policy composed into SQL: which subscriptions a bill run charges, and how much.

This is the charging rule's second statement, on purpose: ``domain/charging.py`` (``assess``)
is the reference, this module says the same set-wise for the bill run, and the audit
(``store/audit.py``) says it a third time, written apart, so that a bug in one shows up as a
difference from another. ``tests/test_ledger_stateful.py`` holds the three together; a change
to the rule is made in all three.

The policy's instants are turned into constant cut-offs in Python (``sent_at <= run_at -
lead``), so the same SQL runs on SQLite and PostgreSQL without interval arithmetic. The bill
run's per-chunk statements (``store/bill_runs.py``) are built from these conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, literal, not_, or_, select
from sqlalchemy.sql.elements import Case

from vasguard.domain.charging import (
    ChargingPolicy,
    FirstMonth,
    Kind,
    Skip,
    plan_judged_at,
)
from vasguard.domain.messages import MessageKind
from vasguard.domain.periods import Period
from vasguard.store.catalogue import plan_includes
from vasguard.store.tables import (
    complaints,
    messages,
    plans,
    services,
    subscriber_plans,
    subscriptions,
)
from vasguard.store.types import UtcDateTime

# The evidence a charge relies on: the confirming MO and the charge reminder MT.
confirmation_mo = messages.alias("confirmation_mo")
reminder_mt = messages.alias("reminder_mt")


def instant(value: datetime) -> ColumnElement[datetime]:
    """A constant instant, typed so that both backends compare it with stored UTC times."""
    return literal(value, UtcDateTime())


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The policy for one run, as SQL over subscriptions ⋈ services ⋈ evidence messages."""

    period: Period
    run_at: datetime
    policy: ChargingPolicy

    @property
    def _covered(self) -> ColumnElement[bool]:
        return services.c.reminder_exempt_reason.is_(None)

    def _lead_terms(self, at: datetime) -> list[tuple[Any, datetime]]:
        """The reminder's instants that must precede ``at`` by the lead time."""
        cut = at - self.policy.lead_time
        terms: list[tuple[Any, datetime]] = [(reminder_mt.c.sent_at, cut)]
        if self.policy.require_delivery_receipt:
            terms.append((reminder_mt.c.receipt_at, cut))
        return terms

    def due_by(self, at: datetime, *, strictly: bool = False) -> ColumnElement[bool]:
        """The first charge is due at or before ``at`` (before it, with ``strictly``)."""

        def precedes(column: Any, cut: datetime) -> ColumnElement[bool]:
            earlier: ColumnElement[bool] = (
                column < instant(cut) if strictly else column <= instant(cut)
            )
            return earlier

        reminder_ok = and_(*(precedes(c, cut) for c, cut in self._lead_terms(at)))
        return and_(
            precedes(subscriptions.c.confirmed_at, at),
            or_(not_(self._covered), reminder_ok),
        )

    @property
    def is_first(self) -> ColumnElement[bool]:
        """Due on or after the period's start: this period holds the first charge."""
        return not_(self.due_by(self.period.start, strictly=True))

    def reasons(self) -> list[tuple[Skip, ColumnElement[bool]]]:
        """Skip conditions in policy order; each is non-NULL once the earlier ones are false."""
        s, svc, run_at = subscriptions.c, services.c, self.run_at
        covered = self._covered
        not_delivered = or_(
            reminder_mt.c.receipt_status.is_(None),
            reminder_mt.c.receipt_status != "delivered",
            reminder_mt.c.receipt_at.is_(None),
        )
        in_plan = plan_includes(
            s.subscriber_id, s.service_id, instant(plan_judged_at(self.period, run_at))
        )
        held = exists().where(complaints.c.subscription_id == s.id, complaints.c.status == "open")
        ended_by_run = and_(s.ended_at.is_not(None), s.ended_at <= instant(run_at))
        reminder_missing = or_(reminder_mt.c.id.is_(None), reminder_mt.c.sent_at.is_(None))
        checks = [
            (Skip.NOT_CONFIRMED, or_(s.confirmed_at.is_(None), confirmation_mo.c.id.is_(None))),
            (Skip.NO_MONTHLY_FEE, or_(svc.billing_mode != "monthly", svc.price_fen <= 0)),
            (Skip.GROUP_PAID, svc.group_paid.is_(True)),
            (Skip.ENDED, and_(s.ended_at.is_not(None), s.ended_at <= instant(self.period.start))),
            (Skip.AWAITING_REMINDER, and_(covered, reminder_missing)),
        ]
        if self.policy.require_delivery_receipt:
            checks.append((Skip.REMINDER_NOT_DELIVERED, and_(covered, not_delivered)))
        return [
            *checks,
            (
                Skip.NOT_DUE,
                not_(and_(self.due_by(run_at), self.due_by(self.period.end, strictly=True))),
            ),
            (Skip.CANCELLED_BEFORE_FIRST_CHARGE, and_(self.is_first, ended_by_run)),
            (Skip.ENDED, ended_by_run),
            (Skip.IN_PLAN, in_plan),
            (Skip.HELD, held),
        ]

    def kind(self) -> Case[Any]:
        return case((self.is_first, literal(Kind.FIRST.value)), else_=literal(Kind.RENEWAL.value))

    def amount(self) -> ColumnElement[int]:
        price = services.c.price_fen
        first = self.policy.first_month
        if first is FirstMonth.FULL:
            return price
        if first is FirstMonth.FREE:
            first_amount: ColumnElement[int] = literal(0)
        else:
            days = self.period.days
            # Days left counting the due day: the latest local midnight the due time reaches.
            remaining = case(
                *(
                    (not_(self.due_by(self.period.day_start(day), strictly=True)), days - day + 1)
                    for day in range(days, 1, -1)
                ),
                else_=days,
            )
            first_amount = price * remaining // days
        return case((self.is_first, first_amount), else_=price)

    def source(self, lo: int, hi: int) -> Select[Any]:
        """Every subscription of subscribers ``(lo, hi]`` with its service and evidence."""
        s = subscriptions.c
        return (
            select()
            .select_from(subscriptions)
            .join(services, services.c.id == s.service_id)
            .outerjoin(
                confirmation_mo,
                and_(
                    confirmation_mo.c.id == s.confirmation_mo_id,
                    confirmation_mo.c.direction == "mo",
                    confirmation_mo.c.subscriber_id == s.subscriber_id,
                ),
            )
            .outerjoin(
                reminder_mt,
                and_(
                    reminder_mt.c.id == s.reminder_mt_id,
                    reminder_mt.c.direction == "mt",
                    reminder_mt.c.kind == MessageKind.REMINDER,
                    reminder_mt.c.subscription_id == s.id,
                ),
            )
            .where(s.subscriber_id > lo, s.subscriber_id <= hi)
        )

    def eligible(self) -> ColumnElement[bool]:
        return and_(*(not_(condition) for _, condition in self.reasons()))

    def reason(self) -> Case[Any]:
        return case(
            *((condition, literal(skip.value)) for skip, condition in self.reasons()),
            else_=self.kind(),
        )

    def plan_in_force(self, lo: int, hi: int) -> Select[Any]:
        """The plans of subscribers ``(lo, hi]`` owing their fee: in force on the first day."""
        sp = subscriber_plans.c
        start = instant(self.period.start)
        return (
            select()
            .select_from(subscriber_plans)
            .join(plans, plans.c.id == sp.plan_id)
            .where(
                sp.subscriber_id > lo,
                sp.subscriber_id <= hi,
                sp.effective_from <= start,
                or_(sp.effective_to.is_(None), sp.effective_to > start),
                plans.c.monthly_fee_fen > 0,
            )
        )
