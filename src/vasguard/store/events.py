"""The append-only audit trail: every state change and its cause, written at commit."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from vasguard.domain.events import Event
from vasguard.store.appends import Appends
from vasguard.store.tables import events


class EventRepository:
    def __init__(self, appends: Appends) -> None:
        self._appends = appends

    def add(self, event: Event) -> None:
        self.add_many([event])

    def add_many(self, batch: Iterable[Event]) -> None:
        self._appends.add(events, [_row(e) for e in batch])


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
