"""The partner change feed: events written with their change, numbered after commit, and
the partners' webhooks with how far each has been delivered.

Events are queued on the unit of work's ``Appends`` like the audit events, so the
dialogue pays no round trip for them. ``seq`` is NULL until the sequencer numbers the row
(see ``sequence``); the feed and the webhooks read by ``seq`` only.

On a sharded deployment the seqs come from one national counter instead
(``partner_feed_counter``, national database: see ``services.sharded_feed``), and a
reader stops at its published mark (``through``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, exists, func, or_, select, update

from vasguard.domain.partner_feed import FeedEvent, PartnerEvent, Webhook
from vasguard.store.appends import Appends
from vasguard.store.tables import UNSEQUENCED, partner_events, partner_feed_counter, webhooks

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
_PAGE_THROUGH = _PAGE.where(partner_events.c.seq <= bindparam("through"))
_COUNTER = partner_feed_counter.c
_NOT_BACKING_OFF = or_(
    webhooks.c.next_attempt_at.is_(None), webhooks.c.next_attempt_at <= bindparam("at")
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
        ids = self.unsequenced(limit)
        if ids:
            self.number(ids, first=self.max_seq() + 1)
        return len(ids)

    def unsequenced(self, limit: int) -> list[int]:
        """The ids of up to ``limit`` rows waiting for their ``seq``, in id order."""
        return list(
            self._conn.scalars(
                select(partner_events.c.id)
                .where(UNSEQUENCED)
                .order_by(partner_events.c.id)
                .limit(limit)
            )
        )

    def number(self, ids: list[int], *, first: int) -> None:
        """Give ``ids`` (still unsequenced) the seqs from ``first`` on, in their order."""
        self._conn.execute(
            _NUMBER, [{"b_id": row_id, "b_seq": first + n} for n, row_id in enumerate(ids)]
        )

    def max_seq(self) -> int:
        """The highest seq on this database (0: none yet)."""
        return self._conn.scalar(select(func.max(partner_events.c.seq))) or 0

    # --- the national counter (sharded: national database, the sequencer's lock held) ---

    def has_counter(self) -> bool:
        """Whether the counter has started (the first sharded sequencing starts it)."""
        return self._conn.execute(select(_COUNTER.id)).first() is not None

    def start_counter(self, at: int) -> None:
        """The counter's first row: reserved and published at ``at`` (the highest seq the
        shards hold already, so seqs numbered before sharding are never given again)."""
        self._conn.execute(partner_feed_counter.insert().values(id=1, reserved=at, published=at))

    def reserve(self, n: int) -> int:
        """Take ``n`` seqs from the counter; the first of them."""
        reserved: int = self._conn.execute(
            update(partner_feed_counter)
            .values(reserved=_COUNTER.reserved + n)
            .returning(_COUNTER.reserved)
        ).scalar_one()
        return reserved - n + 1

    def publish(self) -> None:
        """Move the high-water mark to the counter: every seq reserved so far is on its
        shard, or was never written (a crash between the reservation and the shard)."""
        self._conn.execute(update(partner_feed_counter).values(published=_COUNTER.reserved))

    def high_water(self) -> int:
        """The published mark: readers on the shards stop at it (0: nothing published)."""
        return self._conn.scalar(select(_COUNTER.published)) or 0

    # --- reading by seq ---------------------------------------------------------------------

    def page(
        self, provider_id: int, after: int, limit: int, *, through: int | None = None
    ) -> list[FeedEvent]:
        """The provider's events after ``after`` (up to ``through``, if given), in seq
        order."""
        params = {"provider_id": provider_id, "after": after, "limit": limit}
        if through is None:
            rows = self._conn.execute(_PAGE, params)
        else:
            rows = self._conn.execute(_PAGE_THROUGH, {**params, "through": through})
        return [FeedEvent(r.seq, r.kind, r.at, json.loads(r.payload)) for r in rows]

    def last_seq(self, provider_id: int) -> int:
        """The highest seq given to one of the provider's events (0: none yet)."""
        query = select(func.max(partner_events.c.seq)).where(
            partner_events.c.provider_id == provider_id
        )
        return self._conn.scalar(query) or 0

    def last_seqs(self, provider_ids: list[int], *, through: int) -> dict[int, int]:
        """The highest seq up to ``through`` of each of the providers that has one here
        (one index probe a provider: ``ix_partner_events_provider_seq``)."""
        e = partner_events.c
        rows = self._conn.execute(
            select(e.provider_id, func.max(e.seq))
            .where(e.provider_id.in_(provider_ids), e.seq <= through)
            .group_by(e.provider_id)
        )
        return {provider_id: seq for provider_id, seq in rows}

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
            .where(_NOT_BACKING_OFF, _PENDING_FOR)
            .order_by(webhooks.c.provider_id)
            .limit(limit),
            {"at": at},
        )
        return [_webhook(r._mapping) for r in rows]

    def ready_webhooks(self, at: datetime) -> list[Webhook]:
        """Every webhook whose back-off (if any) has passed, events or not: on a sharded
        deployment the events are on the shards, asked separately."""
        rows = self._conn.execute(
            select(webhooks).where(_NOT_BACKING_OFF).order_by(webhooks.c.provider_id),
            {"at": at},
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
