"""The audit's own queries: each rule re-derived from raw rows, written apart from the bill run.

Nothing here reuses the bill run's SQL: the charging rule is stated three times on purpose,
in ``domain/charging.py`` (the reference), in the bill run's SQL (``store/eligibility.py``)
and here, so that a bug in one shows up as a violation; ``tests/test_ledger_stateful.py``
holds the three together, and a change to the rule is made in all three.

Every rule is one set-wise query over the charges of a period that returns the violating
charges; a rule that needs a policy instant (charge time minus the lead time) is run once
per group of charges sharing a bill run and a charge time, with that instant computed in
Python, so no interval arithmetic is needed in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)

from vasguard.domain.charging import ChargingPolicy, FirstMonth
from vasguard.domain.messages import MessageKind
from vasguard.domain.periods import Period
from vasguard.store.tables import (
    bill_runs,
    charges,
    messages,
    plan_services,
    plans,
    refunds,
    services,
    subscriber_plans,
    subscriptions,
)
from vasguard.store.types import UtcDateTime

c = charges.c
sub = subscriptions.c
svc = services.c
confirmation = messages.alias("audit_mo")
reminder = messages.alias("audit_reminder")

# Stand-in for "before any period": the lower bound of the renewal row of the day table.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Found:
    charge_id: int
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class ChargeGroup:
    """Charges of the period sharing one bill run and one charge time."""

    bill_run_id: int | None
    created_at: datetime
    policy_json: str | None


def _instant(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UtcDateTime())


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def count(self, period: Period) -> int:
        return int(self._conn.scalar(select(func.count()).where(c.period == str(period))) or 0)

    def groups(self, period: Period) -> list[ChargeGroup]:
        rows = self._conn.execute(
            select(c.bill_run_id, c.created_at, bill_runs.c.policy)
            .select_from(charges)
            .outerjoin(bill_runs, bill_runs.c.id == c.bill_run_id)
            .where(c.period == str(period))
            .group_by(c.bill_run_id, c.created_at, bill_runs.c.policy)
            .order_by(c.bill_run_id, c.created_at)
        ).all()
        return [ChargeGroup(r[0], r[1], r[2]) for r in rows]

    def _stream(self, query: Select[Any], rule: str, detail: str) -> Iterator[Found]:
        for row in self._conn.execution_options(yield_per=5000).execute(query):
            values = dict(row._mapping)
            yield Found(values.pop("id"), rule, detail.format(**values))

    # --- rules over the whole period -------------------------------------------------------

    def duplicates(self, period: Period) -> Iterator[Found]:
        """Invariant 4: at most one charge per subscription (or plan) per period."""
        for source in (c.subscription_id, c.subscriber_plan_id):
            repeated = (
                select(source)
                .where(c.period == str(period), source.is_not(None))
                .group_by(source)
                .having(func.count() > 1)
            )
            query = select(c.id, source.label("source")).where(
                c.period == str(period), source.in_(repeated)
            )
            yield from self._stream(query, "one_charge_per_period", f"{source.name} {{source}}")

    def confirmation(self, period: Period) -> Iterator[Found]:
        """Invariant 1: a confirmed subscription whose confirming MO is stored and precedes."""
        evidence_ok = and_(
            sub.id.is_not(None),
            sub.confirmed_at.is_not(None),
            sub.confirmed_at <= c.created_at,
            confirmation.c.id.is_not(None),
            confirmation.c.created_at <= sub.confirmed_at,
            c.confirmation_mo_id == sub.confirmation_mo_id,
        )
        query = (
            select(c.id, c.subscription_id)
            .select_from(charges)
            .outerjoin(subscriptions, sub.id == c.subscription_id)
            .outerjoin(
                confirmation,
                and_(
                    confirmation.c.id == sub.confirmation_mo_id,
                    confirmation.c.direction == "mo",
                    confirmation.c.subscriber_id == c.subscriber_id,
                ),
            )
            .where(
                c.period == str(period),
                c.subscription_id.is_not(None),
                or_(not_(evidence_ok), c.confirmation_mo_id.is_(None)),
            )
        )
        yield from self._stream(
            query,
            "confirmation_evidence",
            "subscription {subscription_id}: no stored confirmation before the charge",
        )

    def plan_fees(self, period: Period) -> Iterator[Found]:
        """A plan fee needs the plan in force on the period's first day, at its fee."""
        start = _instant(period.start)
        query = (
            select(c.id, c.subscriber_plan_id, c.amount_fen, plans.c.monthly_fee_fen)
            .select_from(charges)
            .outerjoin(subscriber_plans, subscriber_plans.c.id == c.subscriber_plan_id)
            .outerjoin(plans, plans.c.id == subscriber_plans.c.plan_id)
            .where(
                c.period == str(period),
                c.subscriber_plan_id.is_not(None),
                or_(
                    plans.c.id.is_(None),
                    subscriber_plans.c.effective_from > start,
                    subscriber_plans.c.effective_to <= start,
                    c.amount_fen != plans.c.monthly_fee_fen,
                    c.kind != "plan",
                ),
            )
        )
        yield from self._stream(
            query,
            "plan_fee",
            "subscriber plan {subscriber_plan_id}: {amount_fen} fen charged, fee "
            "{monthly_fee_fen}, or not in force on the first day",
        )

    def unknown_runs(self, period: Period) -> Iterator[Found]:
        query = (
            select(c.id, c.bill_run_id)
            .select_from(charges)
            .outerjoin(bill_runs, bill_runs.c.id == c.bill_run_id)
            .where(
                c.period == str(period),
                or_(bill_runs.c.id.is_(None), bill_runs.c.period != str(period)),
            )
        )
        yield from self._stream(
            query, "bill_run", "bill run {bill_run_id} of this period is not recorded"
        )

    def ended_before_period(self, period: Period) -> Iterator[Found]:
        """Invariant 10: a subscription that ended at or before the period began was in
        service for none of it, so it keeps no charge for it unless a refund gave all of the
        charge back (the charge was voided). A charge of 0 fen took nothing to give back."""
        start = _instant(period.start)
        given_back = exists().where(
            refunds.c.charge_id == c.id, refunds.c.amount_fen >= c.amount_fen
        )
        query = (
            select(c.id, c.subscription_id, c.amount_fen, sub.ended_at)
            .select_from(charges)
            .join(subscriptions, sub.id == c.subscription_id)
            .where(
                c.period == str(period),
                sub.ended_at <= start,
                c.amount_fen > 0,
                not_(given_back),
            )
        )
        yield from self._stream(
            query,
            "ended_before_period",
            "subscription {subscription_id} ended {ended_at}, before the period began; "
            "its charge of {amount_fen} fen is not refunded in full",
        )

    # --- rules needing the policy, per group of charges ------------------------------------

    def _in_group(self, period: Period, group: ChargeGroup) -> ColumnElement[bool]:
        run = (
            c.bill_run_id.is_(None)
            if group.bill_run_id is None
            else c.bill_run_id == group.bill_run_id
        )
        return and_(
            c.period == str(period),
            run,
            c.created_at == _instant(group.created_at),
            c.subscription_id.is_not(None),
        )

    def _with_evidence(self) -> Select[Any]:
        return (
            select()
            .select_from(charges)
            .join(subscriptions, sub.id == c.subscription_id)
            .join(services, svc.id == sub.service_id)
            .outerjoin(
                reminder,
                and_(
                    reminder.c.id == sub.reminder_mt_id,
                    reminder.c.direction == "mt",
                    reminder.c.kind == MessageKind.REMINDER,
                    reminder.c.subscription_id == sub.id,
                ),
            )
        )

    def reminders(
        self, period: Period, group: ChargeGroup, policy: ChargingPolicy
    ) -> Iterator[Found]:
        """Invariant 2: the reminder sent (and delivered, if required) a lead time earlier."""
        latest = _instant(group.created_at - policy.lead_time)
        announced = and_(
            reminder.c.id.is_not(None),
            reminder.c.sent_at <= latest,
            c.reminder_mt_id == reminder.c.id,
        )
        if policy.require_delivery_receipt:
            announced = and_(
                announced, reminder.c.receipt_status == "delivered", reminder.c.receipt_at <= latest
            )
        query = (
            self._with_evidence()
            .add_columns(c.id, c.subscription_id, reminder.c.sent_at, reminder.c.receipt_status)
            .where(
                self._in_group(period, group),
                svc.reminder_exempt_reason.is_(None),
                or_(not_(announced), announced.is_(None)),
            )
        )
        lead = policy.lead_time
        yield from self._stream(
            query,
            "reminder",
            f"subscription {{subscription_id}}: reminder sent {{sent_at}} "
            f"(receipt {{receipt_status}}), needed by {group.created_at - lead} "
            f"(lead {lead})",
        )

    def activity(self, period: Period, group: ChargeGroup) -> Iterator[Found]:
        """Invariants 2 and 3: the subscription was still active when it was charged."""
        query = (
            select(c.id, c.subscription_id, sub.state, sub.ended_at)
            .select_from(charges)
            .join(subscriptions, sub.id == c.subscription_id)
            .where(
                self._in_group(period, group),
                or_(
                    sub.state.not_in(["active", "cancelled"]),
                    # Strictly: a cancellation stamped the very instant of the run came after it.
                    sub.ended_at < c.created_at,
                ),
            )
        )
        yield from self._stream(
            query,
            "active_at_charge",
            "subscription {subscription_id} was {state} (ended {ended_at}) when charged",
        )

    def plan_inclusion(self, period: Period, group: ChargeGroup) -> Iterator[Found]:
        """Invariant 5: a service in the plan in force at charge time (or, for a charge made
        after its period, at the period's last instant) is not charged."""
        at = _instant(min(group.created_at, period.end - timedelta(microseconds=1)))
        included = exists().where(
            subscriber_plans.c.subscriber_id == c.subscriber_id,
            subscriber_plans.c.effective_from <= at,
            or_(subscriber_plans.c.effective_to.is_(None), subscriber_plans.c.effective_to > at),
            plan_services.c.plan_id == subscriber_plans.c.plan_id,
            plan_services.c.service_id == sub.service_id,
        )
        query = (
            select(c.id, c.subscription_id)
            .select_from(charges)
            .join(subscriptions, sub.id == c.subscription_id)
            .where(self._in_group(period, group), included)
        )
        yield from self._stream(
            query, "included_in_plan", "subscription {subscription_id}: the plan includes it"
        )

    def amounts(
        self, period: Period, group: ChargeGroup, policy: ChargingPolicy
    ) -> Iterator[Found]:
        """The amount and kind follow from the price and the day the first charge fell due.

        The due day is found by joining a table of the period's days (plus a row for "before
        the period", i.e. a renewal); a charge that matches no row fell due after the period.
        """
        covered = svc.reminder_exempt_reason.is_(None)
        days = _day_table(period, policy)
        receipts = policy.require_delivery_receipt

        def on_or_after(bound: Any, lead_bound: Any) -> ColumnElement[bool]:
            by_reminder = reminder.c.sent_at >= lead_bound
            if receipts:
                by_reminder = or_(by_reminder, reminder.c.receipt_at >= lead_bound)
            return or_(sub.confirmed_at >= bound, and_(covered, by_reminder))

        def before(bound: Any, lead_bound: Any) -> ColumnElement[bool]:
            by_reminder = reminder.c.sent_at < lead_bound
            if receipts:
                by_reminder = and_(by_reminder, reminder.c.receipt_at < lead_bound)
            return and_(sub.confirmed_at < bound, or_(not_(covered), by_reminder))

        due_day = and_(on_or_after(days.c.lo, days.c.lo_lead), before(days.c.hi, days.c.hi_lead))
        price = svc.price_fen
        if policy.first_month is FirstMonth.FULL:
            first_amount: ColumnElement[int] = price
        elif policy.first_month is FirstMonth.FREE:
            first_amount = literal(0)
        else:
            first_amount = price * days.c.remaining // period.days
        expected = case((days.c.day == 0, price), else_=first_amount)
        expected_kind = case((days.c.day == 0, "renewal"), else_="first")
        evidence_present = and_(
            sub.confirmed_at.is_not(None),
            or_(
                not_(covered),
                and_(
                    reminder.c.sent_at.is_not(None),
                    reminder.c.receipt_at.is_not(None) if receipts else literal(True),
                ),
            ),
        )
        query = (
            self._with_evidence()
            .outerjoin(days, due_day)
            .add_columns(
                c.id,
                c.subscription_id,
                c.kind,
                c.amount_fen,
                price.label("price"),
                svc.billing_mode,
                days.c.day,
                expected.label("expected"),
            )
            .where(
                self._in_group(period, group),
                evidence_present,
                or_(
                    svc.billing_mode != "monthly",
                    svc.group_paid.is_(True),
                    days.c.day.is_(None),
                    c.amount_fen != expected,
                    c.kind != expected_kind,
                ),
            )
        )
        yield from self._stream(
            query,
            "amount",
            "subscription {subscription_id}: {kind} of {amount_fen} fen for a {billing_mode} "
            "service at {price} fen; due on day {day} of the period (None: after it), "
            "expected {expected} fen",
        )


def _day_table(period: Period, policy: ChargingPolicy) -> Any:
    """Row 0: due before the period (a renewal); then the period's local days, one row each
    when the first month is prorated, else one row for the whole period."""
    lead = policy.lead_time
    bounds = [(0, _EPOCH, period.start)]
    if policy.first_month is FirstMonth.PRORATED:
        bounds += [
            (day, period.day_start(day), period.day_start(day + 1))
            for day in range(1, period.days + 1)
        ]
    else:
        bounds.append((1, period.start, period.end))
    rows = [
        select(
            literal(day).label("day"),
            literal(period.days - day + 1).label("remaining"),
            _instant(lo).label("lo"),
            _instant(hi).label("hi"),
            _instant(lo - lead if day else lo).label("lo_lead"),
            _instant(hi - lead).label("hi_lead"),
        )
        for day, lo, hi in bounds
    ]
    return union_all(*rows).subquery("period_days")
