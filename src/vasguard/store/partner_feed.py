"""The partner change feed: events written with their change, numbered after commit, and
the partners' webhooks with how far each has been delivered.

Events are queued on the unit of work's ``Appends`` like the audit events, so the
dialogue pays no round trip for them. ``seq`` is NULL until the sequencer numbers the row
(see ``sequence``); the feed and the webhooks read by ``seq`` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, exists, func, or_, select, update

from vasguard.domain.partner_feed import FeedEvent, PartnerEvent, Webhook
from vasguard.store.appends import Appends
from vasguard.store.tables import UNSEQUENCED, partner_events, webhooks

_NUMBER = (
    update(partner_events)
    .where(partner_events.c.id == bindparam("b_id"), UNSEQUENCED)
    .values(seq=bindparam("b_seq"))
)
_PAGE = (
    select(
        partner_events.c.seq, partner_events.c.kind, partner_events.c.at, partner_events.c.payload
    )
    .where(
        partner_events.c.provider_id == bindparam("provider_id"),
        partner_events.c.seq > bindparam("after"),
    )
    .order_by(partner_events.c.seq)
    .limit(bindparam("limit"))
)
_PENDING_FOR = exists().where(
    partner_events.c.provider_id == webhooks.c.provider_id,
    partner_events.c.seq > webhooks.c.delivered_seq,
)


class PartnerFeedRepository:
    def __init__(self, conn: Connection, appends: Appends) -> None:
        self._conn = conn
        self._appends = appends

    # --- written with the change ---------------------------------------------------------

    def add(self, event: PartnerEvent) -> None:
        self.add_many([event])

    def add_many(self, batch: Iterable[PartnerEvent]) -> None:
        self._appends.add(partner_events, [_row(e) for e in batch])

    # --- the sequencer (one holder at a time: see services.partner_feed) -----------------

    def has_unsequenced(self) -> bool:
        """Whether any committed row waits for its ``seq`` (the partial index answers)."""
        query = select(partner_events.c.id).where(UNSEQUENCED).limit(1)
        return self._conn.execute(query).first() is not None

    def sequence(self, limit: int) -> int:
        """Number up to ``limit`` unsequenced rows in id order, after the highest ``seq``
        given so far; how many. Only one sequencer may run at a time, and the caller
        commits."""
        ids = list(
            self._conn.scalars(
                select(partner_events.c.id)
                .where(UNSEQUENCED)
                .order_by(partner_events.c.id)
                .limit(limit)
            )
        )
        if not ids:
            return 0
        last = self._conn.scalar(select(func.max(partner_events.c.seq))) or 0
        self._conn.execute(
            _NUMBER, [{"b_id": row_id, "b_seq": last + n} for n, row_id in enumerate(ids, 1)]
        )
        return len(ids)

    # --- reading by seq ---------------------------------------------------------------------

    def page(self, provider_id: int, after: int, limit: int) -> list[FeedEvent]:
        """The provider's events after ``after``, in seq order."""
        rows = self._conn.execute(
            _PAGE, {"provider_id": provider_id, "after": after, "limit": limit}
        )
        return [FeedEvent(r.seq, r.kind, r.at, json.loads(r.payload)) for r in rows]

    def last_seq(self, provider_id: int) -> int:
        """The highest seq given to one of the provider's events (0: none yet)."""
        query = select(func.max(partner_events.c.seq)).where(
            partner_events.c.provider_id == provider_id
        )
        return self._conn.scalar(query) or 0

    # --- webhooks -----------------------------------------------------------------------------

    def webhook(self, provider_id: int) -> Webhook | None:
        row = self._conn.execute(
            select(webhooks).where(webhooks.c.provider_id == provider_id)
        ).first()
        return None if row is None else _webhook(row._mapping)

    def put_webhook(
        self, provider_id: int, *, url: str, secret: str, delivered_seq: int | None, at: datetime
    ) -> None:
        """Register or change the provider's webhook; a change starts a failing one over
        at once. ``delivered_seq`` ``None`` keeps the cursor of an existing one (a new one
        must be given its start)."""
        values: dict[str, Any] = {
            "url": url,
            "secret": secret,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "updated_at": at,
        }
        if delivered_seq is not None:
            values["delivered_seq"] = delivered_seq
        changed = self._conn.execute(
            update(webhooks).where(webhooks.c.provider_id == provider_id).values(**values)
        )
        if changed.rowcount == 0:
            if delivered_seq is None:
                raise ValueError("a new webhook needs the seq it starts after")
            self._conn.execute(webhooks.insert().values(provider_id=provider_id, **values))

    def delete_webhook(self, provider_id: int) -> bool:
        gone = self._conn.execute(delete(webhooks).where(webhooks.c.provider_id == provider_id))
        return gone.rowcount == 1

    def due_webhooks(self, at: datetime, limit: int) -> list[Webhook]:
        """Webhooks with events past their cursor whose back-off (if any) has passed."""
        rows = self._conn.execute(
            select(webhooks)
            .where(
                or_(webhooks.c.next_attempt_at.is_(None), webhooks.c.next_attempt_at <= at),
                _PENDING_FOR,
            )
            .order_by(webhooks.c.provider_id)
            .limit(limit)
        )
        return [_webhook(r._mapping) for r in rows]

    def delivered(self, provider_id: int, *, after: int, through: int) -> bool:
        """Move the cursor from ``after`` to ``through`` and clear the failures; ``False``
        if the cursor is no longer at ``after`` (the webhook was changed meanwhile)."""
        moved = self._conn.execute(
            update(webhooks)
            .where(webhooks.c.provider_id == provider_id, webhooks.c.delivered_seq == after)
            .values(delivered_seq=through, attempts=0, next_attempt_at=None, last_error=None)
        )
        return moved.rowcount == 1

    def failed(
        self, provider_id: int, *, after: int, attempts: int, retry_at: datetime, error: str
    ) -> bool:
        """Record a failed delivery of the events after ``after`` and when to try again."""
        marked = self._conn.execute(
            update(webhooks)
            .where(webhooks.c.provider_id == provider_id, webhooks.c.delivered_seq == after)
            .values(attempts=attempts, next_attempt_at=retry_at, last_error=error)
        )
        return marked.rowcount == 1


def _row(e: PartnerEvent) -> dict[str, Any]:
    return {
        "provider_id": e.provider_id,
        "subscription_id": e.subscription_id,
        "subscriber_id": e.subscriber_id,
        "province": e.province,
        "kind": e.kind.value,
        "at": e.at,
        "payload": json.dumps(e.payload(), ensure_ascii=False, separators=(",", ":")),
    }


def _webhook(row: RowMapping) -> Webhook:
    return Webhook(
        provider_id=row["provider_id"],
        url=row["url"],
        secret=row["secret"],
        delivered_seq=row["delivered_seq"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        updated_at=row["updated_at"],
    )
