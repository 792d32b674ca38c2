"""Complaints: opened by TS, they hold the subscription's charges while open."""

from __future__ import annotations

from datetime import datetime
from secrets import token_hex
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, case, select, update

from vasguard.domain.complaints import ComplaintRecord, ComplaintStatus, ticket_for
from vasguard.domain.subscription import NamedSubscription
from vasguard.store.subscriptions import NAMED_COLUMNS, named_subscription
from vasguard.store.tables import complaints, providers, services, subscribers, subscriptions

_RECORDS = (
    select(
        complaints.c.id,
        complaints.c.ticket,
        subscribers.c.msisdn,
        complaints.c.province,
        complaints.c.subscription_id,
        services.c.code,
        complaints.c.provider_id,
        providers.c.code,
        complaints.c.text,
        complaints.c.status,
        case((complaints.c.mo_id.is_(None), "care"), else_="sms"),
        complaints.c.opened_at,
        complaints.c.resolved_at,
        complaints.c.resolution,
    )
    .select_from(complaints)
    .join(subscribers, subscribers.c.id == complaints.c.subscriber_id)
    .outerjoin(subscriptions, subscriptions.c.id == complaints.c.subscription_id)
    .outerjoin(services, services.c.id == subscriptions.c.service_id)
    .outerjoin(providers, providers.c.id == complaints.c.provider_id)
)


def _record(row: Any) -> ComplaintRecord:
    values = list(row)
    values[9] = ComplaintStatus(values[9])
    return ComplaintRecord(*values)


def _when(column: Any, value: object | None) -> list[ColumnElement[bool]]:
    return [] if value is None else [column == value]


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
        mo_id: int | None,
        at: datetime,
        zone: str,
    ) -> tuple[int, str]:
        """Store an open complaint; its ticket is derived from its id so it is unique.

        ``mo_id`` is the customer's TS, or ``None`` for one care opened on their behalf.
        Until the id is known the ticket holds a placeholder no other insert can share.
        """
        # Both fit the column with a shard's 15-digit ids; a ticket starts with TS.
        placeholder = f"mo-{mo_id}" if mo_id is not None else f"care-{token_hex(7)}"
        complaint_id: int = self._conn.execute(
            complaints.insert()
            .values(
                ticket=placeholder,
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

    def records(
        self,
        *,
        after: int,
        limit: int,
        status: ComplaintStatus | None = None,
        subscriber_id: int | None = None,
        province: str | None = None,
        provider_id: int | None = None,
    ) -> list[ComplaintRecord]:
        """Complaints by id after ``after``, ``limit + 1`` at most, filtered as given: by
        subscriber (``ix_complaints_subscriber``), status (``ix_complaints_status_id``) or
        provider (``ix_complaints_provider_id_id``) through an index."""
        statement: Select[Any] = _RECORDS.where(
            complaints.c.id > after,
            *_when(complaints.c.status, status.value if status is not None else None),
            *_when(complaints.c.subscriber_id, subscriber_id),
            *_when(complaints.c.province, province),
            *_when(complaints.c.provider_id, provider_id),
        )
        rows = self._conn.execute(statement.order_by(complaints.c.id).limit(limit + 1)).all()
        return [_record(r) for r in rows]

    def record(self, ticket: str) -> ComplaintRecord | None:
        row = self._conn.execute(_RECORDS.where(complaints.c.ticket == ticket)).first()
        return _record(row) if row else None

    def against(self, subscriber_id: int, subscription_id: int) -> NamedSubscription | None:
        """The subscriber's subscription ``subscription_id`` (in any state), as a complaint
        about it names it; ``None`` if it is not theirs."""
        row = self._conn.execute(
            select(*NAMED_COLUMNS)
            .join_from(subscriptions, services)
            .join(providers)
            .where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.subscriber_id == subscriber_id,
            )
        ).first()
        return named_subscription(row) if row else None
