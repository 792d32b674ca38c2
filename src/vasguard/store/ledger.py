"""Reads of the ledger: charges with their evidence, refunds, bill runs.

Every list is one keyset query (``id > after ORDER BY id LIMIT n``) over an index that
serves its filter: charges by subscriber (``ix_charges_subscriber``) or by period
(``ix_charges_period_id``), refunds by subscriber (``ix_refunds_subscriber``); a
province or kind filter only thins what the index walk finds. A charge's status is
computed in the same query from the refund (unique per charge) and the open complaints of
its subscription (``ix_complaints_subscription``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, exists, select

from vasguard.domain.charging import Charged, ExemptCharged
from vasguard.domain.complaints import ComplaintStatus
from vasguard.domain.ledger import (
    BillRunLink,
    BillRunRecord,
    ChargeEvidence,
    ChargeLine,
    HoldLink,
    MessageLink,
    OrderLink,
    PlanOrderLink,
    RefundLine,
    charge_status,
)
from vasguard.store.tables import (
    bill_runs,
    charges,
    complaints,
    messages,
    plans,
    providers,
    refunds,
    services,
    subscriber_plans,
    subscribers,
    subscriptions,
)

_OPEN = ComplaintStatus.OPEN.value
_HELD = exists().where(
    complaints.c.subscription_id == charges.c.subscription_id, complaints.c.status == _OPEN
)
_REFUNDED = exists().where(refunds.c.charge_id == charges.c.id)

_CHARGE_LINES = (
    select(
        charges.c.id,
        subscribers.c.msisdn,
        charges.c.province,
        charges.c.period,
        charges.c.kind,
        charges.c.amount_fen,
        charges.c.created_at,
        charges.c.bill_run_id,
        charges.c.subscription_id,
        charges.c.subscriber_plan_id,
        services.c.code,
        plans.c.code,
        _REFUNDED.label("refunded"),
        _HELD.label("held"),
    )
    .select_from(charges)
    .join(subscribers, subscribers.c.id == charges.c.subscriber_id)
    .outerjoin(subscriptions, subscriptions.c.id == charges.c.subscription_id)
    .outerjoin(services, services.c.id == subscriptions.c.service_id)
    .outerjoin(subscriber_plans, subscriber_plans.c.id == charges.c.subscriber_plan_id)
    .outerjoin(plans, plans.c.id == subscriber_plans.c.plan_id)
)

_MESSAGE = (
    messages.c.id,
    messages.c.direction,
    messages.c.kind,
    messages.c.text,
    messages.c.created_at,
    messages.c.status,
    messages.c.sent_at,
    messages.c.receipt_status,
    messages.c.receipt_at,
)

_REFUND_LINES = (
    select(
        refunds.c.id,
        refunds.c.charge_id,
        subscribers.c.msisdn,
        refunds.c.province,
        charges.c.period,
        refunds.c.amount_fen,
        refunds.c.created_at,
        complaints.c.ticket,
        refunds.c.cause_ref,
    )
    .select_from(refunds)
    .join(charges, charges.c.id == refunds.c.charge_id)
    .join(subscribers, subscribers.c.id == refunds.c.subscriber_id)
    .outerjoin(complaints, complaints.c.id == refunds.c.complaint_id)
)


def _charge_line(row: Sequence[Any]) -> ChargeLine:
    """A ``ChargeLine`` from a row of ``_CHARGE_LINES``."""
    values = list(row[:12])
    values.append(charge_status(refunded=bool(row[12]), held=bool(row[13])))
    return ChargeLine(*values)


def _scoped(column: Any, value: object | None) -> list[ColumnElement[bool]]:
    """``column = value`` when a filter or scope is given, nothing when it is not."""
    return [] if value is None else [column == value]


def _page(statement: Select[Any], key: Any, after: int, limit: int) -> Select[Any]:
    """Keyset: the ``limit + 1`` rows after ``after`` (the one over says a next page exists)."""
    return statement.where(key > after).order_by(key).limit(limit + 1)


class LedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def charges(
        self,
        *,
        after: int,
        limit: int,
        subscriber_id: int | None = None,
        period: str | None = None,
        kind: str | None = None,
        province: str | None = None,
    ) -> list[ChargeLine]:
        """Charges by id after ``after``, ``limit + 1`` at most, filtered as given."""
        statement = _CHARGE_LINES.where(
            *_scoped(charges.c.subscriber_id, subscriber_id),
            *_scoped(charges.c.period, period),
            *_scoped(charges.c.kind, kind),
            *_scoped(charges.c.province, province),
        )
        rows = self._conn.execute(_page(statement, charges.c.id, after, limit)).all()
        return [_charge_line(r) for r in rows]

    def charge(self, charge_id: int) -> ChargeLine | None:
        row = self._conn.execute(_CHARGE_LINES.where(charges.c.id == charge_id)).first()
        return _charge_line(row) if row else None

    def evidence(self, line: ChargeLine) -> ChargeEvidence:
        """Everything stored that led to the charge ``line``, fetched by primary keys."""
        facts = self._conn.execute(
            select(
                charges.c.confirmation_mo_id,
                charges.c.reminder_mt_id,
                charges.c.reminder_status,
                subscriptions.c.request_mt_id,
            )
            .select_from(charges)
            .outerjoin(subscriptions, subscriptions.c.id == charges.c.subscription_id)
            .where(charges.c.id == line.id)
        ).one()
        confirmation_mo, reminder_mt, reminder_status, request_mt = facts
        wanted = [m for m in (confirmation_mo, reminder_mt, request_mt) if m is not None]
        found = {
            r[0]: MessageLink(*r)
            for r in self._conn.execute(select(*_MESSAGE).where(messages.c.id.in_(wanted)))
        }
        return ChargeEvidence(
            charge=line,
            order=self._order(line.subscription_id),
            plan_order=self._plan_order(line.subscriber_plan_id),
            confirmation_request=found.get(request_mt),
            confirmation=found.get(confirmation_mo),
            reminder=found.get(reminder_mt),
            reminder_status_at_charge=reminder_status,
            bill_run=self._bill_run_link(line.bill_run_id),
            refund=self._refund_of(line.id),
            holds=self._holds(line.subscription_id),
        )

    def _order(self, subscription_id: int | None) -> OrderLink | None:
        if subscription_id is None:
            return None
        s = subscriptions.c
        row = self._conn.execute(
            select(
                s.id,
                services.c.code,
                services.c.name,
                providers.c.code,
                s.state,
                s.channel,
                s.order_ref,
                s.ordered_at,
                s.confirmed_at,
                s.ended_at,
                s.end_cause,
            )
            .join_from(subscriptions, services)
            .join(providers)
            .where(s.id == subscription_id)
        ).one()
        return OrderLink(*row)

    def _plan_order(self, subscriber_plan_id: int | None) -> PlanOrderLink | None:
        if subscriber_plan_id is None:
            return None
        sp = subscriber_plans.c
        row = self._conn.execute(
            select(
                sp.id,
                plans.c.code,
                plans.c.name,
                sp.channel,
                sp.ordered_at,
                sp.effective_from,
                sp.effective_to,
            )
            .join_from(subscriber_plans, plans)
            .where(sp.id == subscriber_plan_id)
        ).one()
        return PlanOrderLink(*row)

    def _bill_run_link(self, bill_run_id: int | None) -> BillRunLink | None:
        if bill_run_id is None:
            return None
        b = bill_runs.c
        row = self._conn.execute(
            select(b.id, b.period, b.run_at, b.status).where(b.id == bill_run_id)
        ).first()
        return BillRunLink(*row) if row else None

    def _refund_of(self, charge_id: int) -> RefundLine | None:
        row = self._conn.execute(_REFUND_LINES.where(refunds.c.charge_id == charge_id)).first()
        return RefundLine(*row) if row else None

    def _holds(self, subscription_id: int | None) -> list[HoldLink]:
        if subscription_id is None:
            return []
        c = complaints.c
        rows = self._conn.execute(
            select(c.ticket, c.opened_at)
            .where(c.subscription_id == subscription_id, c.status == _OPEN)
            .order_by(c.id)
        ).all()
        return [HoldLink(*r) for r in rows]

    def refunds(
        self,
        *,
        after: int,
        limit: int,
        subscriber_id: int | None = None,
        province: str | None = None,
    ) -> list[RefundLine]:
        """Refunds by id after ``after``, ``limit + 1`` at most."""
        statement = _REFUND_LINES.where(
            *_scoped(refunds.c.subscriber_id, subscriber_id),
            *_scoped(refunds.c.province, province),
        )
        rows = self._conn.execute(_page(statement, refunds.c.id, after, limit)).all()
        return [RefundLine(*r) for r in rows]

    def bill_runs(
        self, *, after: int, limit: int, period: str | None = None
    ) -> list[BillRunRecord]:
        """Bill runs by id after ``after``: a handful a month, ``ix_bill_runs_period``."""
        statement = select(bill_runs).where(*_scoped(bill_runs.c.period, period))
        rows = self._conn.execute(_page(statement, bill_runs.c.id, after, limit)).all()
        return [_bill_run(r._mapping) for r in rows]

    def bill_run(self, bill_run_id: int) -> BillRunRecord | None:
        row = self._conn.execute(select(bill_runs).where(bill_runs.c.id == bill_run_id)).first()
        return _bill_run(row._mapping) if row else None


def _bill_run(row: Any) -> BillRunRecord:
    """A run's record, its summary (``store/bill_runs.py`` ``_summary_json``) unpacked."""
    summary = json.loads(row["summary"] or "{}")
    return BillRunRecord(
        id=row["id"],
        period=row["period"],
        status=row["status"],
        run_at=row["run_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cursor=row["cursor"],
        charged_count=row["charged_count"],
        charged_fen=row["charged_fen"],
        charged={
            kind: Charged(int(n), int(fen)) for kind, (n, fen) in summary.get("charged", {}).items()
        },
        skipped={reason: int(n) for reason, n in summary.get("skipped", {}).items()},
        exempt=[ExemptCharged(**line) for line in summary.get("exempt", [])],
    )
