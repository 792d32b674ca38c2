"""The append-only audit trail: every state change and its cause."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from vasguard.domain.events import Event
from vasguard.store.tables import events

_ADD = events.insert()


class EventRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, event: Event) -> None:
        self.add_many([event])

    def add_many(self, batch: Iterable[Event]) -> None:
        rows = [_row(e) for e in batch]
        if rows:
            self._conn.execute(_ADD, rows)

    def for_entity(self, entity: str, entity_id: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(events)
            .where(events.c.entity == entity, events.c.entity_id == entity_id)
            .order_by(events.c.id)
        ).all()
        return [dict(r._mapping) for r in rows]

    def for_subscriber(
        self, subscriber_id: int, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        query = select(events).where(events.c.subscriber_id == subscriber_id)
        if since is not None:
            query = query.where(events.c.at >= since)
        return [dict(r._mapping) for r in self._conn.execute(query.order_by(events.c.id))]


def _row(e: Event) -> dict[str, Any]:
    return {
        "subscriber_id": e.subscriber_id,
        "province": e.province,
        "entity": e.entity,
        "entity_id": e.entity_id,
        "kind": e.kind,
        "cause_kind": e.cause.kind,
        "cause_ref": e.cause.ref,
        "at": e.at,
        "detail": json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else None,
    }
