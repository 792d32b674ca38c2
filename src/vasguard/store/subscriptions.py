"""Subscriptions: the writes of the order life cycle, each guarded by the expected state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select, update

from vasguard.domain.subscription import OPEN_STATES, PendingOrder, State
from vasguard.store.tables import providers, services, subscriptions


class StaleState(RuntimeError):
    """The row was not in the expected state: someone else moved it first."""


class SubscriptionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def holds(self, subscriber_id: int, service_id: int) -> bool:
        """Whether an active or pending subscription to the service exists."""
        query = select(
            exists().where(
                subscriptions.c.subscriber_id == subscriber_id,
                subscriptions.c.service_id == service_id,
                subscriptions.c.state.in_([s.value for s in OPEN_STATES]),
            )
        )
        return bool(self._conn.scalar(query))

    def add_pending(self, **values: Any) -> int:
        values["state"] = State.PENDING.value
        new_id: int = self._conn.execute(
            subscriptions.insert().values(**values).returning(subscriptions.c.id)
        ).scalar_one()
        return new_id

    def set_request_message(self, subscription_id: int, message_id: int) -> None:
        self._conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(request_mt_id=message_id)
        )

    def pending_orders(self, subscriber_id: int) -> list[PendingOrder]:
        """Every pending request of the subscriber, open or past its deadline."""
        rows = self._conn.execute(
            select(
                subscriptions.c.id,
                subscriptions.c.service_id,
                services.c.code,
                services.c.name,
                providers.c.name,
                services.c.price_fen,
                subscriptions.c.confirmation_code,
                subscriptions.c.confirm_by,
            )
            .join_from(subscriptions, services)
            .join(providers)
            .where(
                subscriptions.c.subscriber_id == subscriber_id,
                subscriptions.c.state == State.PENDING.value,
            )
            .order_by(subscriptions.c.ordered_at, subscriptions.c.id)
        ).all()
        return [PendingOrder(*row) for row in rows]

    def open_codes(self, subscriber_id: int, at: datetime) -> set[str]:
        return {
            code
            for code in self._conn.scalars(
                select(subscriptions.c.confirmation_code).where(
                    subscriptions.c.subscriber_id == subscriber_id,
                    subscriptions.c.state == State.PENDING.value,
                    subscriptions.c.confirm_by > at,
                )
            )
            if code
        }

    def move(self, subscription_id: int, expected: State, target: State, **values: Any) -> None:
        """Move one subscription from ``expected`` to ``target``, or raise ``StaleState``."""
        result = self._conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id, subscriptions.c.state == expected.value)
            .values(state=target.value, **values)
        )
        if result.rowcount != 1:
            raise StaleState(f"subscription {subscription_id} is no longer {expected}")

    def get(self, subscription_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(
            select(subscriptions).where(subscriptions.c.id == subscription_id)
        ).first()
        return dict(row._mapping) if row else None

    def due_expiry(self, at: datetime, limit: int) -> list[tuple[int, int, str]]:
        """Pending orders whose confirmation window has closed: (id, subscriber, province)."""
        rows = self._conn.execute(
            select(subscriptions.c.id, subscriptions.c.subscriber_id, subscriptions.c.province)
            .where(
                subscriptions.c.state == State.PENDING.value,
                subscriptions.c.confirm_by <= at,
            )
            .order_by(subscriptions.c.id)
            .limit(limit)
        ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def expire(self, ids: list[int], at: datetime) -> int:
        result = self._conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id.in_(ids), subscriptions.c.state == State.PENDING.value)
            .values(state=State.EXPIRED.value, ended_at=at, end_cause="unconfirmed")
        )
        return result.rowcount
