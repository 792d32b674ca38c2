"""The message log: every MO and MT, stored before anything else happens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, ScalarSelect, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.catalogue import Subscriber
from vasguard.store.appends import Appends
from vasguard.store.tables import QUEUED, messages, subscribers

_ADD = messages.insert().returning(messages.c.id)


def _of_sender(column: Column[Any]) -> ScalarSelect[Any]:
    return select(column).where(subscribers.c.msisdn == bindparam("sender")).scalar_subquery()


# An MO is stored and its sender looked up in one statement: one round trip, not two.
_RECEIVE = {
    name: dialect.insert(messages)
    .values(
        subscriber_id=_of_sender(subscribers.c.id),
        province=_of_sender(subscribers.c.province),
    )
    .on_conflict_do_nothing(index_elements=["direction", "smsc_message_id"])
    .returning(
        messages.c.id,
        messages.c.subscriber_id,
        messages.c.province,
        _of_sender(subscribers.c.language),
        _of_sender(subscribers.c.status),
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass(frozen=True, slots=True)
class Received:
    """A newly stored MO, and its sender when the number is one of ours."""

    mo_id: int
    sender: Subscriber | None


_MARK_HANDLED = (
    update(messages)
    .where(messages.c.id == bindparam("message_id"))
    .values(handled_at=bindparam("at"))
)


class MessageRepository:
    def __init__(self, conn: Connection, appends: Appends) -> None:
        self._conn = conn
        self._appends = appends

    def add(self, **values: Any) -> int:
        new_id: int = self._conn.execute(_ADD, values).scalar_one()
        return new_id

    def queue(self, **values: Any) -> None:
        """Add an MT whose id nobody needs (a direct reply): written at commit."""
        self._appends.add(messages, [values])

    def receive(self, **values: Any) -> Received | None:
        """Store an MO unless one with the same SMSC id is already stored; then ``None``."""
        statement = _RECEIVE[self._conn.dialect.name]
        row = self._conn.execute(
            statement, {"direction": "mo", "sender": values["msisdn"], **values}
        ).first()
        if row is None:
            return None
        mo_id, subscriber_id, province, language, status = row
        if subscriber_id is None:
            return Received(mo_id, None)
        sender = Subscriber(subscriber_id, values["msisdn"], province, language, status)
        return Received(mo_id, sender)

    def mo_by_smsc_id(self, smsc_message_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            select(messages).where(
                messages.c.direction == "mo", messages.c.smsc_message_id == smsc_message_id
            )
        ).first()
        return dict(row._mapping) if row else None

    def mark_handled(self, message_id: int, at: datetime) -> None:
        self._conn.execute(_MARK_HANDLED, {"message_id": message_id, "at": at})

    def due_mt(self, at: datetime, limit: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(
                messages.c.id,
                messages.c.msisdn,
                messages.c.service_number,
                messages.c.text,
            )
            .where(QUEUED, messages.c.send_after <= at)
            .order_by(messages.c.send_after, messages.c.id)
            .limit(limit)
        ).all()
        return [dict(r._mapping) for r in rows]

    def mark_sent(self, message_id: int, smsc_message_id: str, at: datetime) -> None:
        self._conn.execute(
            update(messages)
            .where(messages.c.id == message_id, messages.c.status == "queued")
            .values(status="sent", sent_at=at, smsc_message_id=smsc_message_id)
        )

    def apply_receipt(
        self, smsc_message_id: str, delivered: bool, at: datetime
    ) -> dict[str, Any] | None:
        """Set the outcome of a sent MT; ``None`` if unknown or already settled."""
        outcome = "delivered" if delivered else "failed"
        row = self._conn.execute(
            update(messages)
            .where(
                messages.c.direction == "mt",
                messages.c.smsc_message_id == smsc_message_id,
                messages.c.status == "sent",
            )
            .values(status=outcome, receipt_status=outcome, receipt_at=at)
            .returning(messages.c.id, messages.c.subscriber_id, messages.c.province)
        ).first()
        return dict(row._mapping) if row else None

    def latest_for(self, subscriber_id: int, limit: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(messages)
            .where(messages.c.subscriber_id == subscriber_id)
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(limit)
        ).all()
        return [dict(r._mapping) for r in rows]
