"""Complaints: opened by TS, they hold the subscription's charges while open."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from vasguard.domain.complaints import ComplaintStatus, ticket_for
from vasguard.store.tables import complaints


class ComplaintRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def open(
        self,
        *,
        subscriber_id: int,
        province: str,
        subscription_id: int | None,
        provider_id: int | None,
        text: str,
        mo_id: int,
        at: datetime,
        zone: str,
    ) -> tuple[int, str]:
        """Store an open complaint; its ticket is derived from its id so it is unique."""
        complaint_id: int = self._conn.execute(
            complaints.insert()
            .values(
                ticket=f"pending-{mo_id}",
                subscriber_id=subscriber_id,
                province=province,
                subscription_id=subscription_id,
                provider_id=provider_id,
                text=text,
                status=ComplaintStatus.OPEN.value,
                mo_id=mo_id,
                opened_at=at,
            )
            .returning(complaints.c.id)
        ).scalar_one()
        ticket = ticket_for(at, complaint_id, zone)
        self._conn.execute(
            update(complaints).where(complaints.c.id == complaint_id).values(ticket=ticket)
        )
        return complaint_id, ticket
