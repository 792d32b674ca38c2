"""The message log: every MO and MT, stored before anything else happens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, ScalarSelect, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.messages import (
    MessageKind,
    MessageView,
    NewMo,
    NewMt,
    Received,
    SettledMt,
    StoredMo,
)
from vasguard.store.appends import Appends
from vasguard.store.fragments import FragmentRepository
from vasguard.store.outbox import OutboxRepository
from vasguard.store.prepared import Prepared
from vasguard.store.tables import messages, subscribers

_ADD = messages.insert().returning(messages.c.id)


def mt_values(mt: NewMt) -> dict[str, Any]:
    """The messages row of a queued MT: the one place an MT becomes a row."""
    segmented = mt.segmented
    return {
        "subscriber_id": mt.subscriber.id,
        "province": mt.subscriber.province,
        "msisdn": mt.subscriber.msisdn,
        "direction": "mt",
        "service_number": mt.service_number,
        "kind": mt.kind,
        "text": mt.text,
        "encoding": segmented.encoding,
        "parts": segmented.count,
        "status": "queued",
        "in_reply_to": mt.in_reply_to,
        "subscription_id": mt.subscription_id,
        "created_at": mt.created_at,
        "send_after": mt.due_at,
    }


def _of_sender(column: Column[Any]) -> ScalarSelect[Any]:
    return select(column).where(subscribers.c.msisdn == bindparam("sender")).scalar_subquery()


# What an MO row is given besides its sender's id and province.
_MO_COLUMNS = (
    "direction",
    "msisdn",
    "service_number",
    "kind",
    "text",
    "encoding",
    "parts",
    "status",
    "smsc_message_id",
    "created_at",
    "handled_at",
)

# An MO is stored and its sender looked up in one statement: one round trip, not two;
# every MO runs it, so it runs through store.prepared. SQLite renders RETURNING's columns
# unqualified, so a subquery there must name only columns of its own FROM (here
# subscribers.msisdn), never the inserted row's (see store.outbox's failed_parts).
_RECEIVE = {
    name: Prepared(
        dialect.insert(messages)
        .values(
            subscriber_id=_of_sender(subscribers.c.id),
            province=_of_sender(subscribers.c.province),
            **{name: bindparam(name) for name in _MO_COLUMNS},
        )
        .on_conflict_do_nothing(index_elements=["direction", "smsc_message_id"])
        .returning(
            messages.c.id,
            messages.c.subscriber_id,
            messages.c.province,
            _of_sender(subscribers.c.language),
            _of_sender(subscribers.c.status),
        )
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


_MARK_HANDLED = (
    update(messages)
    .where(messages.c.id == bindparam("message_id"))
    .values(handled_at=bindparam("at"))
)


class MessageRepository:
    def __init__(self, conn: Connection, appends: Appends) -> None:
        self._conn = conn
        self._appends = appends
        self.outbox = OutboxRepository(conn)
        """MT parts and receipts: what the sender claims and settles."""
        self.fragments = FragmentRepository(conn)
        """Parts of concatenated MOs awaiting the rest."""

    def add(self, mt: NewMt) -> int:
        """Queue an MT now and return its id, for rows that must point at it."""
        new_id: int = self._conn.execute(_ADD, mt_values(mt)).scalar_one()
        return new_id

    def add_many(self, mts: Sequence[NewMt]) -> list[int]:
        """Queue many MTs in one statement; their ids come back in the order given."""
        if not mts:
            return []
        result = self._conn.execute(
            messages.insert().returning(messages.c.id, sort_by_parameter_order=True),
            [mt_values(mt) for mt in mts],
        )
        return [int(r[0]) for r in result.all()]

    def queue(self, mt: NewMt) -> None:
        """Queue an MT whose id nobody needs (a direct reply): written at commit."""
        self._appends.add(messages, [mt_values(mt)])

    def receive(self, mo: NewMo, *, handled_at: datetime | None) -> Received | None:
        """Store an MO unless one with the same SMSC id is already stored; then ``None``."""
        return self._store_mo(mo, "mo", handled_at)

    def record_consent(self, mo: NewMo) -> int:
        """Store the 是{code} a customer read out to care as an MO of kind ``care_consent``,
        handled at once: the evidence of a confirmation made on their behalf."""
        received = self._store_mo(mo, MessageKind.CARE_CONSENT, mo.created_at)
        assert received is not None, "without an SMSC id it is never a repeat"
        return received.mo_id

    def keep_incomplete(self, mo: NewMo) -> None:
        """Store what arrived of a concatenated MO that never completed, as an MO nothing
        acts on (kind ``mo_incomplete``, handled at once): kept, not lost, not obeyed."""
        self._store_mo(mo, "mo_incomplete", mo.created_at)

    def _store_mo(self, mo: NewMo, kind: str, handled_at: datetime | None) -> Received | None:
        row = _RECEIVE[self._conn.dialect.name].first(
            self._conn,
            {
                "direction": "mo",
                "sender": mo.msisdn,
                "msisdn": mo.msisdn,
                "service_number": mo.service_number,
                "kind": kind,
                "text": mo.text,
                "encoding": mo.encoding,
                "parts": 1,
                "status": "received",
                "smsc_message_id": mo.smsc_message_id,
                "created_at": mo.created_at,
                "handled_at": handled_at,
            },
        )
        if row is None:
            return None
        mo_id, subscriber_id, province, language, status = row
        if subscriber_id is None:
            return Received(mo_id, None)
        sender = Subscriber(subscriber_id, mo.msisdn, province, language, status)
        return Received(mo_id, sender)

    def mo_by_smsc_id(self, smsc_message_id: str) -> StoredMo | None:
        row = self._conn.execute(
            select(messages.c.id, messages.c.handled_at).where(
                messages.c.direction == "mo", messages.c.smsc_message_id == smsc_message_id
            )
        ).first()
        return StoredMo(row[0], row[1]) if row else None

    def mark_handled(self, message_id: int, at: datetime) -> None:
        self._conn.execute(_MARK_HANDLED, {"message_id": message_id, "at": at})

    def apply_receipt(
        self, smsc_message_id: str, delivered: bool, at: datetime
    ) -> SettledMt | None:
        """Set the outcome of an MT sent whole before MTs had parts (a row from before
        migration 0006, with the SMSC id on the message); ``None`` if unknown or settled."""
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
        return SettledMt(row[0], row[1], row[2]) if row else None

    def latest_for(self, subscriber_id: int, limit: int) -> list[MessageView]:
        """The subscriber's newest messages, newest first."""
        m = messages.c
        rows = self._conn.execute(
            select(m.id, m.direction, m.service_number, m.kind, m.text, m.parts, m.status)
            .add_columns(m.created_at)
            .where(m.subscriber_id == subscriber_id)
            .order_by(m.created_at.desc(), m.id.desc())
            .limit(limit)
        ).all()
        return [MessageView(*r) for r in rows]
