"""Reads of subscribers: one number, one row."""

from __future__ import annotations

from sqlalchemy import Connection, select

from vasguard.domain.catalogue import Subscriber
from vasguard.store.tables import subscribers


class SubscriberRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_msisdn(self, msisdn: str) -> Subscriber | None:
        row = self._conn.execute(
            select(
                subscribers.c.id,
                subscribers.c.msisdn,
                subscribers.c.province,
                subscribers.c.language,
                subscribers.c.status,
            ).where(subscribers.c.msisdn == msisdn)
        ).first()
        return Subscriber(*row) if row else None
