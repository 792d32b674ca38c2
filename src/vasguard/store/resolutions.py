"""Resolving complaints and refunding charges; one refund per charge, enforced by the schema.

Rows come back as the domain's ``Complaint``, ``Charge`` and ``RefundRecord``; which charges
a refund run covers is the domain's ``RefundScope``, turned here into one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.complaints import Complaint, ComplaintStatus
from vasguard.domain.refunds import Charge, RefundRecord, RefundScope
from vasguard.store.tables import charges, complaints, refunds, services, subscriptions

_CHARGE = (
    charges.c.id,
    charges.c.subscriber_id,
    charges.c.province,
    charges.c.subscription_id,
    charges.c.period,
    charges.c.amount_fen,
)
_REFUND = (refunds.c.id, refunds.c.charge_id, refunds.c.amount_fen, refunds.c.complaint_id)


def _charge(row: Sequence[Any]) -> Charge:
    """A ``Charge`` from a row of ``_CHARGE``."""
    return Charge(row[0], row[1], row[2], row[3], row[4], row[5])


def _refund(row: Sequence[Any]) -> RefundRecord:
    """A ``RefundRecord`` from a row of ``_REFUND``."""
    return RefundRecord(row[0], row[1], row[2], row[3])


def _unrefunded(covered: ColumnElement[bool]) -> Select[Any]:
    """Charges of one subscriber that ``covered`` names, from a period on, still unrefunded."""
    return (
        select(*_CHARGE)
        .where(
            charges.c.subscriber_id == bindparam("subscriber_id"),
            covered,
            charges.c.period >= bindparam("from_period"),
            charges.c.amount_fen > 0,
            ~exists().where(refunds.c.charge_id == charges.c.id),
        )
        .order_by(charges.c.period, charges.c.id)
    )


# Built once: every cancellation of a charged subscription asks it (see store.subscribers).
_UNREFUNDED_OF_SUBSCRIPTION = _unrefunded(charges.c.subscription_id == bindparam("subscription_id"))


class ResolutionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def complaint(self, ticket: str) -> Complaint | None:
        row = self._conn.execute(
            select(
                complaints.c.id,
                complaints.c.ticket,
                complaints.c.subscriber_id,
                complaints.c.province,
                complaints.c.subscription_id,
                complaints.c.provider_id,
                complaints.c.status,
                complaints.c.opened_at,
            ).where(complaints.c.ticket == ticket)
        ).first()
        if row is None:
            return None
        return Complaint(
            row[0], row[1], row[2], row[3], row[4], row[5], ComplaintStatus(row[6]), row[7]
        )

    def resolve(self, complaint_id: int, at: datetime, resolution: str) -> bool:
        """Close an open complaint; ``False`` if it was no longer open."""
        result = self._conn.execute(
            update(complaints)
            .where(
                complaints.c.id == complaint_id,
                complaints.c.status == ComplaintStatus.OPEN.value,
            )
            .values(
                status=ComplaintStatus.RESOLVED.value, resolved_at=at, resolution=resolution[:200]
            )
        )
        return result.rowcount == 1

    def unrefunded(self, scope: RefundScope) -> list[Charge]:
        """The charges ``scope`` covers, by period: non-zero and without a refund yet."""
        if scope.subscription_id is not None:
            statement = _UNREFUNDED_OF_SUBSCRIPTION
        else:
            statement = _unrefunded(
                charges.c.subscription_id.in_(
                    select(subscriptions.c.id)
                    .join(services, subscriptions.c.service_id == services.c.id)
                    .where(
                        subscriptions.c.subscriber_id == bindparam("subscriber_id"),
                        services.c.provider_id == bindparam("provider_id"),
                    )
                )
            )
        rows = self._conn.execute(
            statement,
            {
                "subscriber_id": scope.subscriber_id,
                "subscription_id": scope.subscription_id,
                "provider_id": scope.provider_id,
                "from_period": str(scope.from_period),
            },
        ).all()
        return [_charge(r) for r in rows]

    def charge(self, charge_id: int) -> Charge | None:
        row = self._conn.execute(select(*_CHARGE).where(charges.c.id == charge_id)).first()
        return _charge(row) if row else None

    def refund_of(self, charge_id: int) -> RefundRecord | None:
        row = self._conn.execute(select(*_REFUND).where(refunds.c.charge_id == charge_id)).first()
        return _refund(row) if row else None

    def add_refund(
        self,
        charge: Charge,
        *,
        amount_fen: int,
        complaint_id: int | None,
        created_at: datetime,
        cause_ref: str,
    ) -> int | None:
        """Insert a refund unless the charge already has one; then ``None``."""
        insert = (
            postgresql.insert(refunds)
            if self._conn.dialect.name == "postgresql"
            else sqlite.insert(refunds)
        )
        statement = (
            insert.values(
                charge_id=charge.id,
                subscriber_id=charge.subscriber_id,
                province=charge.province,
                complaint_id=complaint_id,
                amount_fen=amount_fen,
                created_at=created_at,
                cause_ref=cause_ref,
            )
            .on_conflict_do_nothing(index_elements=["charge_id"])
            .returning(refunds.c.id)
        )
        refund_id: int | None = self._conn.execute(statement).scalar_one_or_none()
        return refund_id
