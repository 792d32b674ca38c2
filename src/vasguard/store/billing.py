"""The bill run in SQL: the charging policy composed into set-wise statements per chunk.

Each chunk of subscribers is charged by one ``INSERT … SELECT`` for subscriptions and one
for plans, conflict-ignoring on the unique (source, period), so a re-run or a resumed run
charges nothing twice. The policy's instants are turned into constant cut-offs in Python
(``sent_at <= run_at - lead``) so the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import Case

from vasguard.domain.charging import (
    REMINDER_KIND,
    ChargingPolicy,
    FirstMonth,
    Kind,
    Skip,
    plan_judged_at,
    policy_from_json,
    policy_json,
)
from vasguard.domain.periods import Period
from vasguard.store.tables import (
    bill_runs,
    charges,
    complaints,
    messages,
    plan_services,
    plans,
    services,
    subscriber_plans,
    subscribers,
    subscriptions,
)
from vasguard.store.types import UtcDateTime

mo = messages.alias("confirmation_mo")
reminder = messages.alias("reminder_mt")

_CHARGE_COLUMNS = [
    "subscriber_id",
    "province",
    "subscription_id",
    "subscriber_plan_id",
    "period",
    "kind",
    "amount_fen",
    "bill_run_id",
    "confirmation_mo_id",
    "reminder_mt_id",
    "reminder_status",
    "created_at",
]


def _at(value: datetime) -> ColumnElement[datetime]:
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

    def _lead_terms(self, instant: datetime) -> list[tuple[Any, datetime]]:
        """The reminder's instants that must precede ``instant`` by the lead time."""
        cut = instant - self.policy.lead_time
        terms: list[tuple[Any, datetime]] = [(reminder.c.sent_at, cut)]
        if self.policy.require_delivery_receipt:
            terms.append((reminder.c.receipt_at, cut))
        return terms

    def due_by(self, instant: datetime, *, strictly: bool = False) -> ColumnElement[bool]:
        """The first charge is due at or before ``instant`` (before it, with ``strictly``)."""

        def precedes(column: Any, cut: datetime) -> ColumnElement[bool]:
            earlier: ColumnElement[bool] = column < _at(cut) if strictly else column <= _at(cut)
            return earlier

        reminder_ok = and_(*(precedes(c, cut) for c, cut in self._lead_terms(instant)))
        return and_(
            precedes(subscriptions.c.confirmed_at, instant),
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
            reminder.c.receipt_status.is_(None),
            reminder.c.receipt_status != "delivered",
            reminder.c.receipt_at.is_(None),
        )
        judged = _at(plan_judged_at(self.period, run_at))
        plan_in_force = exists().where(
            subscriber_plans.c.subscriber_id == s.subscriber_id,
            subscriber_plans.c.effective_from <= judged,
            or_(
                subscriber_plans.c.effective_to.is_(None),
                subscriber_plans.c.effective_to > judged,
            ),
            plan_services.c.plan_id == subscriber_plans.c.plan_id,
            plan_services.c.service_id == s.service_id,
        )
        held = exists().where(complaints.c.subscription_id == s.id, complaints.c.status == "open")
        ended_by_run = and_(s.ended_at.is_not(None), s.ended_at <= _at(run_at))
        reminder_missing = or_(reminder.c.id.is_(None), reminder.c.sent_at.is_(None))
        checks = [
            (Skip.NOT_CONFIRMED, or_(s.confirmed_at.is_(None), mo.c.id.is_(None))),
            (Skip.NO_MONTHLY_FEE, or_(svc.billing_mode != "monthly", svc.price_fen <= 0)),
            (Skip.GROUP_PAID, svc.group_paid.is_(True)),
            (Skip.ENDED, and_(s.ended_at.is_not(None), s.ended_at <= _at(self.period.start))),
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
            (Skip.IN_PLAN, plan_in_force),
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
                mo,
                and_(
                    mo.c.id == s.confirmation_mo_id,
                    mo.c.direction == "mo",
                    mo.c.subscriber_id == s.subscriber_id,
                ),
            )
            .outerjoin(
                reminder,
                and_(
                    reminder.c.id == s.reminder_mt_id,
                    reminder.c.direction == "mt",
                    reminder.c.kind == REMINDER_KIND,
                    reminder.c.subscription_id == s.id,
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
        sp = subscriber_plans.c
        start = _at(self.period.start)
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


@dataclass(frozen=True, slots=True)
class Counts:
    """One chunk: subscriptions and plans per reason or kind, and kind → (charged, fen)."""

    outcomes: dict[str, int]
    charged: dict[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    run_at: datetime
    cursor: int
    resumed: bool
    policy: ChargingPolicy
    summary: dict[str, Any]


class BillingRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _insert(self) -> Any:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(charges)

    def open_run(
        self, period: Period, run_at: datetime, policy: ChargingPolicy, started_at: datetime
    ) -> Run:
        """Resume the period's unfinished run at the same instant, or start a new one.

        An unfinished run for another instant is marked failed: its charges stand, and the
        new run, conflict-ignoring, charges only what it left.
        """
        row = self._conn.execute(
            select(bill_runs)
            .where(bill_runs.c.period == str(period), bill_runs.c.status == "running")
            .order_by(bill_runs.c.id.desc())
        ).first()
        if row is not None and row.run_at == run_at and row.policy is not None:
            return Run(
                row.id,
                run_at,
                row.cursor,
                True,
                policy_from_json(row.policy),
                json.loads(row.summary or "{}"),
            )
        self._conn.execute(
            update(bill_runs)
            .where(bill_runs.c.period == str(period), bill_runs.c.status == "running")
            .values(status="failed", finished_at=started_at)
        )
        run_id: int = self._conn.execute(
            bill_runs.insert()
            .values(
                period=str(period),
                run_at=run_at,
                status="running",
                started_at=started_at,
                cursor=0,
                charged_count=0,
                charged_fen=0,
                summary="{}",
                policy=policy_json(policy, period.zone),
            )
            .returning(bill_runs.c.id)
        ).scalar_one()
        return Run(run_id, run_at, 0, False, policy, {})

    def last_subscriber_id(self) -> int:
        return int(self._conn.scalar(select(func.max(subscribers.c.id))) or 0)

    def charge_chunk(self, run_id: int, rules: Eligibility, lo: int, hi: int) -> Counts:
        """Charge what subscribers ``(lo, hi]`` owe, conflicts ignored, and count outcomes.

        PostgreSQL does it in one statement: the candidates with their reason are computed
        once, the insert reads them and the counts come from both. SQLite, without
        data-modifying CTEs, runs the two inserts, then counts reasons and charges apart.
        """
        if self._conn.dialect.name == "postgresql":
            return self._charge_and_count(run_id, rules, lo, hi)
        period, created, run = literal(str(rules.period)), _at(rules.run_at), literal(run_id)
        s = subscriptions.c
        owed = (
            rules.source(lo, hi)
            .add_columns(
                s.subscriber_id,
                s.province,
                s.id,
                literal(None, BigInteger()).label("subscriber_plan_id"),
                period,
                rules.kind(),
                rules.amount(),
                run,
                s.confirmation_mo_id,
                reminder.c.id,
                reminder.c.status,
                created,
            )
            .where(rules.eligible())
        )
        self._conn.execute(
            self._insert()
            .from_select(_CHARGE_COLUMNS, owed)
            .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
        )
        self._conn.execute(
            self._insert()
            .from_select(_CHARGE_COLUMNS, self._fees(rules, lo, hi, run))
            .on_conflict_do_nothing(index_elements=["subscriber_plan_id", "period"])
        )
        return Counts(self._outcomes(rules, lo, hi), self.charged(run_id, lo, hi))

    def _fees(self, rules: Eligibility, lo: int, hi: int, run: Any) -> Select[Any]:
        sp = subscriber_plans.c
        return rules.plan_in_force(lo, hi).add_columns(
            sp.subscriber_id,
            sp.province,
            literal(None, BigInteger()).label("subscription_id"),
            sp.id,
            literal(str(rules.period)),
            literal(Kind.PLAN.value).label("kind"),
            plans.c.monthly_fee_fen,
            run,
            literal(None, BigInteger()).label("confirmation_mo_id"),
            literal(None, BigInteger()).label("reminder_mt_id"),
            literal(None, String()).label("reminder_status"),
            _at(rules.run_at),
        )

    def _charge_and_count(self, run_id: int, rules: Eligibility, lo: int, hi: int) -> Counts:
        s = subscriptions.c
        run = literal(run_id)
        candidates = (
            rules.source(lo, hi)
            .add_columns(
                s.subscriber_id,
                s.province,
                s.id.label("subscription_id"),
                s.confirmation_mo_id,
                reminder.c.id.label("reminder_mt_id"),
                reminder.c.status.label("reminder_status"),
                rules.reason().label("reason"),
                rules.amount().label("amount_fen"),
            )
            .cte("candidates")
        )
        k = candidates.c
        owed = select(
            k.subscriber_id,
            k.province,
            k.subscription_id,
            literal(None, BigInteger()),
            literal(str(rules.period)),
            k.reason,
            k.amount_fen,
            run,
            k.confirmation_mo_id,
            k.reminder_mt_id,
            k.reminder_status,
            _at(rules.run_at),
        ).where(k.reason.in_([Kind.FIRST.value, Kind.RENEWAL.value]))
        made = (
            postgresql.insert(charges)
            .from_select(_CHARGE_COLUMNS, owed)
            .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
            .returning(charges.c.kind, charges.c.amount_fen)
            .cte("made")
        )
        fees = self._fees(rules, lo, hi, run).cte("fees")
        made_fees = (
            postgresql.insert(charges)
            .from_select(_CHARGE_COLUMNS, fees)
            .on_conflict_do_nothing(index_elements=["subscriber_plan_id", "period"])
            .returning(charges.c.kind, charges.c.amount_fen)
            .cte("made_fees")
        )
        zero = literal(0)
        counted = union_all(
            select(literal("outcome"), k.reason, func.count(), zero).group_by(k.reason),
            select(literal("outcome"), literal(Kind.PLAN.value), func.count(), zero).select_from(
                fees
            ),
            *(
                select(
                    literal("charged"), m.c.kind, func.count(), func.sum(m.c.amount_fen)
                ).group_by(m.c.kind)
                for m in (made, made_fees)
            ),
        )
        counts = Counts({}, {})
        for source, name, count, fen in self._conn.execute(counted):
            if source == "charged":
                counts.charged[name] = (int(count), int(fen))
            elif count:
                counts.outcomes[name] = int(count)
        return counts

    def _outcomes(self, rules: Eligibility, lo: int, hi: int) -> dict[str, int]:
        """How many subscriptions (and plans) of the chunk fall under each reason or kind."""
        reason = rules.reason().label("reason")
        per_subscription = rules.source(lo, hi).add_columns(reason)
        per_plan = rules.plan_in_force(lo, hi).add_columns(literal(Kind.PLAN.value).label("reason"))
        both = union_all(per_subscription, per_plan).subquery()
        rows = self._conn.execute(select(both.c.reason, func.count()).group_by(both.c.reason)).all()
        return {r[0]: int(r[1]) for r in rows}

    def charged(self, run_id: int, lo: int, hi: int) -> dict[str, tuple[int, int]]:
        """What this run charged to subscribers ``(lo, hi]``: kind → (count, fen).

        No condition on the period (the run implies it): given one, SQLite walks every
        charge of the period on each chunk instead of the chunk's subscribers.
        """
        c = charges.c
        rows = self._conn.execute(
            select(c.kind, func.count(), func.coalesce(func.sum(c.amount_fen), 0))
            .where(c.subscriber_id > lo, c.subscriber_id <= hi, c.bill_run_id == run_id)
            .group_by(c.kind)
        ).all()
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def save_progress(self, run: Run, cursor: int, summary: dict[str, Any]) -> None:
        """Record the chunk as done, in the same transaction as its charges."""
        count = sum(n for n, _ in summary.get("charged", {}).values())
        fen = sum(f for _, f in summary.get("charged", {}).values())
        self._conn.execute(
            update(bill_runs)
            .where(bill_runs.c.id == run.id)
            .values(
                cursor=cursor,
                charged_count=count,
                charged_fen=fen,
                summary=json.dumps(summary, sort_keys=True),
            )
        )

    def finish(self, run: Run, finished_at: datetime, summary: dict[str, Any]) -> None:
        self._conn.execute(
            update(bill_runs)
            .where(bill_runs.c.id == run.id)
            .values(
                status="finished",
                finished_at=finished_at,
                summary=json.dumps(summary, sort_keys=True),
            )
        )

    def exempt_charged(self, run_id: int) -> list[dict[str, Any]]:
        """Charges this run made without a reminder, by exempt service: to be reported."""
        rows = self._conn.execute(
            select(
                services.c.code,
                services.c.reminder_exempt_reason,
                func.count(),
                func.coalesce(func.sum(charges.c.amount_fen), 0),
            )
            .select_from(charges)
            .join(subscriptions, subscriptions.c.id == charges.c.subscription_id)
            .join(services, services.c.id == subscriptions.c.service_id)
            .where(charges.c.bill_run_id == run_id, services.c.reminder_exempt_reason.is_not(None))
            .group_by(services.c.code, services.c.reminder_exempt_reason)
            .order_by(services.c.code)
        ).all()
        return [
            {"service": r[0], "reason": r[1], "charges": int(r[2]), "fen": int(r[3])} for r in rows
        ]
