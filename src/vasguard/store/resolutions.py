"""Resolving complaints and refunding charges; one refund per charge, enforced by the schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.store.tables import charges, complaints, refunds, services, subscriptions


class ResolutionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def complaint(self, ticket: str) -> dict[str, Any] | None:
        row = self._conn.execute(select(complaints).where(complaints.c.ticket == ticket)).first()
        return dict(row._mapping) if row else None

    def resolve(self, complaint_id: int, at: datetime, resolution: str) -> bool:
        """Close an open complaint; ``False`` if it was no longer open."""
        result = self._conn.execute(
            update(complaints)
            .where(complaints.c.id == complaint_id, complaints.c.status == "open")
            .values(status="resolved", resolved_at=at, resolution=resolution[:200])
        )
        return result.rowcount == 1

    def refundable_charges(
        self, complaint: dict[str, Any], from_period: str
    ) -> list[dict[str, Any]]:
        """Unrefunded, non-zero charges a complaint covers from ``from_period`` on.

        A complaint about a subscription covers its charges; one about a partner covers the
        subscriber's charges for that partner's services.
        """
        covered = (
            charges.c.subscription_id == complaint["subscription_id"]
            if complaint["subscription_id"] is not None
            else charges.c.subscription_id.in_(
                select(subscriptions.c.id)
                .join(services, subscriptions.c.service_id == services.c.id)
                .where(
                    subscriptions.c.subscriber_id == complaint["subscriber_id"],
                    services.c.provider_id == complaint["provider_id"],
                )
            )
        )
        rows = self._conn.execute(
            select(charges)
            .where(
                charges.c.subscriber_id == complaint["subscriber_id"],
                covered,
                charges.c.period >= from_period,
                charges.c.amount_fen > 0,
                ~exists().where(refunds.c.charge_id == charges.c.id),
            )
            .order_by(charges.c.period, charges.c.id)
        ).all()
        return [dict(r._mapping) for r in rows]

    def charge(self, charge_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(select(charges).where(charges.c.id == charge_id)).first()
        return dict(row._mapping) if row else None

    def refund_of(self, charge_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(select(refunds).where(refunds.c.charge_id == charge_id)).first()
        return dict(row._mapping) if row else None

    def add_refund(self, **values: Any) -> int | None:
        """Insert a refund unless the charge already has one; then ``None``."""
        insert = (
            postgresql.insert(refunds)
            if self._conn.dialect.name == "postgresql"
            else sqlite.insert(refunds)
        )
        statement = (
            insert.values(**values)
            .on_conflict_do_nothing(index_elements=["charge_id"])
            .returning(refunds.c.id)
        )
        return self._conn.execute(statement).scalar_one_or_none()

    def refunds_of_complaint(self, complaint_id: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(refunds).where(refunds.c.complaint_id == complaint_id).order_by(refunds.c.id)
        ).all()
        return [dict(r._mapping) for r in rows]
