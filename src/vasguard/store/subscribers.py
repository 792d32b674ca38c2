"""Reads of subscribers: one number, one row."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from vasguard.domain.catalogue import Subscriber
from vasguard.store.tables import subscribers

# Hot-path statements are built once: executing a prebuilt statement skips SQLAlchemy's
# per-call construction and cache-key work, which dominates a short online request.
_SUBSCRIBER = select(
    subscribers.c.id,
    subscribers.c.msisdn,
    subscribers.c.province,
    subscribers.c.language,
    subscribers.c.status,
)
_BY_MSISDN = _SUBSCRIBER.where(subscribers.c.msisdn == bindparam("msisdn"))
_BY_ID = _SUBSCRIBER.where(subscribers.c.id == bindparam("subscriber_id"))


class SubscriberRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_msisdn(self, msisdn: str) -> Subscriber | None:
        row = self._conn.execute(_BY_MSISDN, {"msisdn": msisdn}).first()
        return Subscriber(*row) if row else None

    def by_id(self, subscriber_id: int) -> Subscriber | None:
        row = self._conn.execute(_BY_ID, {"subscriber_id": subscriber_id}).first()
        return Subscriber(*row) if row else None
