"""Charge reminders, set-wise: which subscriptions still need one, and recording them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    func,
    select,
    update,
)

from vasguard.store.catalogue import plan_includes
from vasguard.store.subscriptions import StaleState
from vasguard.store.tables import (
    AWAITING_REMINDER,
    messages,
    providers,
    provinces,
    services,
    subscribers,
    subscriptions,
)


def _awaiting_reminder(at: datetime) -> ColumnElement[bool]:
    """Active, not yet reminded, monthly, covered, and not included in the plan in force."""
    return and_(
        AWAITING_REMINDER,
        services.c.billing_mode == "monthly",
        services.c.reminder_exempt_reason.is_(None),
        ~plan_includes(subscriptions.c.subscriber_id, subscriptions.c.service_id, at),
    )


class ReminderRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def zones(self) -> dict[str, str]:
        """Each province's time zone: the sending window is in the subscriber's local time."""
        return {
            code: zone
            for code, zone in self._conn.execute(select(provinces.c.code, provinces.c.timezone))
        }

    def due(
        self, at: datetime, in_provinces: Sequence[str], after_id: int, limit: int
    ) -> list[dict[str, Any]]:
        """The next chunk (by id) of subscriptions awaiting their reminder, locked for us.

        On PostgreSQL the rows are locked and rows locked by a concurrent run are skipped.
        """
        rows = self._conn.execute(
            select(
                subscriptions.c.id,
                subscriptions.c.subscriber_id,
                subscriptions.c.province,
                subscriptions.c.ordered_at,
                subscribers.c.msisdn,
                subscribers.c.language,
                subscribers.c.status,
                services.c.code.label("service_code"),
                services.c.name.label("service_name"),
                services.c.price_fen,
                providers.c.name.label("provider_name"),
            )
            .join_from(subscriptions, services, subscriptions.c.service_id == services.c.id)
            .join(providers, services.c.provider_id == providers.c.id)
            .join(subscribers, subscriptions.c.subscriber_id == subscribers.c.id)
            .where(
                _awaiting_reminder(at),
                subscriptions.c.province.in_(in_provinces),
                subscriptions.c.id > after_id,
            )
            .order_by(subscriptions.c.id)
            .limit(limit)
            .with_for_update(of=subscriptions, skip_locked=True)
        ).all()
        return [dict(r._mapping) for r in rows]

    def count_due(self, at: datetime, in_provinces: Sequence[str]) -> int:
        query = (
            select(func.count())
            .select_from(subscriptions)
            .join(services, subscriptions.c.service_id == services.c.id)
            .where(_awaiting_reminder(at), subscriptions.c.province.in_(in_provinces))
        )
        return int(self._conn.scalar(query) or 0)

    def exempt(self) -> list[dict[str, Any]]:
        """Monthly exempt services with active subscriptions: they get no reminder, and why."""
        count = func.count(subscriptions.c.id)
        rows = self._conn.execute(
            select(
                services.c.code,
                services.c.name,
                providers.c.name.label("provider"),
                services.c.reminder_exempt_reason.label("reason"),
                count.label("subscriptions"),
            )
            .join_from(subscriptions, services, subscriptions.c.service_id == services.c.id)
            .join(providers, services.c.provider_id == providers.c.id)
            .where(
                subscriptions.c.state == "active",
                services.c.billing_mode == "monthly",
                services.c.reminder_exempt_reason.is_not(None),
            )
            .group_by(
                services.c.code,
                services.c.name,
                providers.c.name,
                services.c.reminder_exempt_reason,
            )
            .order_by(count.desc(), services.c.code)
        ).all()
        return [dict(r._mapping) for r in rows]

    def queue_messages(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert many MTs in one statement; their ids come back in the order given."""
        if not rows:
            return []
        result = self._conn.execute(
            messages.insert().returning(messages.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(r[0]) for r in result.all()]

    def record(self, reminders: Sequence[tuple[int, int]], at: datetime) -> None:
        """Link each subscription to its reminder MT; a row reminded meanwhile aborts the chunk."""
        if not reminders:
            return
        result = self._conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == bindparam("subscription"),
                subscriptions.c.reminder_mt_id.is_(None),
            )
            .values(reminder_mt_id=bindparam("message"), reminder_queued_at=at),
            [{"subscription": sid, "message": mt} for sid, mt in reminders],
        )
        if result.rowcount != len(reminders):
            raise StaleState("a subscription in this chunk was reminded by someone else")
