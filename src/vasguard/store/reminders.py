"""Charge reminders, set-wise: which subscriptions still need one, and recording them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    func,
    select,
    update,
)

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.reminders import ExemptService, ReminderCandidate
from vasguard.store.catalogue import plan_includes
from vasguard.store.subscriptions import StaleState
from vasguard.store.tables import (
    AWAITING_REMINDER,
    providers,
    provinces,
    services,
    subscribers,
    subscriptions,
)


def _awaiting_reminder(at: datetime) -> ColumnElement[bool]:
    """The subscriptions ``why_no_reminder`` (``domain/reminders.py``) reminds at ``at``.

    Over ``subscriptions`` joined to their service and subscriber. ``AWAITING_REMINDER``
    (active, not yet reminded) comes first as written, so the partial index walks the rows.
    ``test_the_job_reminds_exactly_whom_the_predicate_names`` holds this to the predicate.
    """
    return and_(
        AWAITING_REMINDER,
        services.c.billing_mode == "monthly",
        services.c.price_fen > 0,
        services.c.group_paid.is_(False),
        services.c.reminder_exempt_reason.is_(None),
        subscribers.c.status == "active",
        ~plan_includes(subscriptions.c.subscriber_id, subscriptions.c.service_id, at),
    )


def _candidate(m: RowMapping) -> ReminderCandidate:
    return ReminderCandidate(
        subscription_id=m["id"],
        subscriber=Subscriber(
            m["subscriber_id"], m["msisdn"], m["province"], m["language"], m["status"]
        ),
        ordered_at=m["ordered_at"],
        service_code=m["service_code"],
        service_name=m["service_name"],
        provider_name=m["provider_name"],
        price_fen=m["price_fen"],
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
    ) -> list[ReminderCandidate]:
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
        return [_candidate(r._mapping) for r in rows]

    def count_due(self, at: datetime, in_provinces: Sequence[str]) -> int:
        """How many subscriptions in these provinces await their reminder (as ``due`` picks)."""
        query = (
            select(func.count())
            .select_from(subscriptions)
            .join(services, subscriptions.c.service_id == services.c.id)
            .join(subscribers, subscriptions.c.subscriber_id == subscribers.c.id)
            .where(_awaiting_reminder(at), subscriptions.c.province.in_(in_provinces))
        )
        return int(self._conn.scalar(query) or 0)

    def exempt(self) -> list[ExemptService]:
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
        return [ExemptService(**r._mapping) for r in rows]

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
