"""One subscriber's timeline, read kind by kind through each table's subscriber index.

Each kind gives at most ``limit`` entries after the key, newest first, from an index on
``subscriber_id`` (messages and events by time within it; charges, refunds and complaints
are few per subscriber); ``domain.timeline.newest_first`` merges them. A page costs five
short index lookups whatever the table sizes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Select, and_, or_, select, true

from vasguard.domain.timeline import (
    ChargeEntry,
    ComplaintEntry,
    Entry,
    EntryKind,
    EventEntry,
    MessageEntry,
    RefundEntry,
    TimelineKey,
    newest_first,
)
from vasguard.store.tables import charges, complaints, events, messages, refunds


def _after(
    kind: EntryKind, at: ColumnElement[Any], row_id: ColumnElement[Any], key: TimelineKey | None
) -> ColumnElement[bool]:
    """The rows of ``kind`` that come after ``key`` in timeline order (all, without one)."""
    if key is None:
        return true()
    same_instant, below_id = key.follows(kind)
    if not same_instant:
        return at < key.at
    if not below_id:
        return at <= key.at
    return or_(at < key.at, and_(at == key.at, row_id < key.id))


def _event(row: Any) -> EventEntry:
    entry_id, at, entity, entity_id, event, cause_kind, cause_ref, detail = row
    return EventEntry(
        entry_id,
        at,
        entity,
        entity_id,
        event,
        cause_kind,
        cause_ref,
        json.loads(detail) if detail else {},
    )


m, e, c, r, k = messages.c, events.c, charges.c, refunds.c, complaints.c

# Per kind: its columns (id and instant first), its subscriber column, and its entry.
_KINDS: tuple[tuple[EntryKind, Select[Any], Column[Any], Callable[[Any], Entry]], ...] = (
    (
        EntryKind.MESSAGE,
        select(
            m.id,
            m.created_at,
            m.direction,
            m.kind,
            m.service_number,
            m.text,
            m.parts,
            m.status,
            m.receipt_status,
            m.receipt_at,
            m.subscription_id,
            m.in_reply_to,
        ),
        m.subscriber_id,
        lambda row: MessageEntry(*row),
    ),
    (
        EntryKind.EVENT,
        select(e.id, e.at, e.entity, e.entity_id, e.kind, e.cause_kind, e.cause_ref, e.detail),
        e.subscriber_id,
        _event,
    ),
    (
        EntryKind.CHARGE,
        select(
            c.id,
            c.created_at,
            c.period,
            c.kind,
            c.amount_fen,
            c.subscription_id,
            c.subscriber_plan_id,
            c.bill_run_id,
        ),
        c.subscriber_id,
        lambda row: ChargeEntry(*row),
    ),
    (
        EntryKind.REFUND,
        select(r.id, r.created_at, r.charge_id, r.amount_fen, r.complaint_id, r.cause_ref),
        r.subscriber_id,
        lambda row: RefundEntry(*row),
    ),
    (
        EntryKind.COMPLAINT,
        select(
            k.id,
            k.opened_at,
            k.ticket,
            k.status,
            k.subscription_id,
            k.provider_id,
            k.text,
            k.resolved_at,
            k.resolution,
        ),
        k.subscriber_id,
        lambda row: ComplaintEntry(*row),
    ),
)


class TimelineRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def page(self, subscriber_id: int, after: TimelineKey | None, limit: int) -> list[Entry]:
        """The ``limit`` entries that follow ``after`` (the newest, without it)."""
        found: list[Entry] = []
        for kind, query, subscriber, entry in _KINDS:
            row_id, at = query.selected_columns[0], query.selected_columns[1]
            newest = (
                query.where(subscriber == subscriber_id, _after(kind, at, row_id, after))
                .order_by(at.desc(), row_id.desc())
                .limit(limit)
            )
            found.extend(entry(row) for row in self._conn.execute(newest))
        return newest_first(found, limit)
