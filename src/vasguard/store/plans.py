"""Plans held by subscribers: orders, changes, and the notices that announce them.

A row is never deleted: a plan that ends gets ``effective_to``; an ordered plan replaced
before it took effect gets ``effective_to = effective_from`` (an empty interval) so the
history of what was ordered stays readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    RowMapping,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.ledger import PlanOrderLink
from vasguard.domain.plans import Plan, SubscriberPlan
from vasguard.domain.reminders import PlanNoticeCandidate
from vasguard.store.catalogue import current_plan_filter
from vasguard.store.subscriptions import StaleState
from vasguard.store.tables import (
    plan_services,
    plans,
    services,
    subscriber_plans,
    subscribers,
)

_HELD = (
    subscriber_plans.c.id,
    subscriber_plans.c.plan_id,
    subscriber_plans.c.effective_from,
    subscriber_plans.c.effective_to,
)


def _held(row: Row[int, int, datetime, datetime | None]) -> SubscriberPlan:
    return SubscriberPlan(row[0], row[1], row[2], row[3])


def _not_superseded() -> ColumnElement[bool]:
    return or_(
        subscriber_plans.c.effective_to.is_(None),
        subscriber_plans.c.effective_to > subscriber_plans.c.effective_from,
    )


def _effective_notice_due(since: datetime, at: datetime) -> ColumnElement[bool]:
    """In force at ``at``, took effect since ``since``, not yet announced, number not closed.

    Over ``subscriber_plans`` joined to its subscriber. A suspended subscriber is told: the
    plan's fee is owed whatever the number's status (``plan_fee_owed``), and the notice is
    due only in the month the plan took effect, so holding it back until the number is
    active again could mean never sending it. A closed number has nobody left to tell (it
    may be given to someone else), so it is not told.
    """
    return and_(
        subscriber_plans.c.effective_from >= since,
        subscriber_plans.c.effective_notice_mt_id.is_(None),
        current_plan_filter(at),
        subscribers.c.status != "closed",
    )


def _notice(m: RowMapping) -> PlanNoticeCandidate:
    return PlanNoticeCandidate(
        subscriber_plan_id=m["id"],
        subscriber=Subscriber(
            m["subscriber_id"], m["msisdn"], m["province"], m["language"], m["status"]
        ),
        plan=Plan(m["plan_id"], m["plan_code"], m["plan_name"], m["monthly_fee_fen"]),
        effective_from=m["effective_from"],
    )


class PlanRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_code(self, code: str) -> Plan | None:
        row = self._conn.execute(
            select(plans.c.id, plans.c.code, plans.c.name, plans.c.monthly_fee_fen).where(
                plans.c.code == code
            )
        ).first()
        return Plan(row[0], row[1], row[2], row[3]) if row else None

    def lock_subscriber(self, subscriber_id: int) -> None:
        """Serialise plan orders of one subscriber (PostgreSQL row lock; SQLite has one writer)."""
        self._conn.execute(
            select(subscribers.c.id).where(subscribers.c.id == subscriber_id).with_for_update()
        )

    def current(self, subscriber_id: int, at: datetime) -> SubscriberPlan | None:
        row = self._conn.execute(
            select(*_HELD)
            .where(subscriber_plans.c.subscriber_id == subscriber_id, current_plan_filter(at))
            .order_by(subscriber_plans.c.effective_from.desc(), subscriber_plans.c.id.desc())
        ).first()
        return _held(row) if row else None

    def history(self, subscriber_id: int) -> list[PlanOrderLink]:
        """Every plan the subscriber ordered, replaced ones too, newest order first."""
        sp = subscriber_plans.c
        rows = self._conn.execute(
            select(
                sp.id,
                plans.c.code,
                plans.c.name,
                sp.channel,
                sp.ordered_at,
                sp.effective_from,
                sp.effective_to,
            )
            .join_from(subscriber_plans, plans, plans.c.id == sp.plan_id)
            .where(sp.subscriber_id == subscriber_id)
            .order_by(sp.ordered_at.desc(), sp.id.desc())
        ).all()
        return [PlanOrderLink(*r) for r in rows]

    def upcoming(self, subscriber_id: int, at: datetime) -> list[SubscriberPlan]:
        """Ordered plans not yet in force (and not replaced), earliest first."""
        rows = self._conn.execute(
            select(*_HELD)
            .where(
                subscriber_plans.c.subscriber_id == subscriber_id,
                subscriber_plans.c.effective_from > at,
                _not_superseded(),
            )
            .order_by(subscriber_plans.c.effective_from, subscriber_plans.c.id)
        ).all()
        return [_held(r) for r in rows]

    def end(self, subscriber_plan_id: int, at: datetime) -> None:
        self._conn.execute(
            update(subscriber_plans)
            .where(subscriber_plans.c.id == subscriber_plan_id)
            .values(effective_to=at)
        )

    def supersede(self, subscriber_plan_id: int) -> None:
        """An ordered plan replaced before it took effect: an empty interval, kept as history."""
        self._conn.execute(
            update(subscriber_plans)
            .where(subscriber_plans.c.id == subscriber_plan_id)
            .values(effective_to=subscriber_plans.c.effective_from)
        )

    def add(self, **values: Any) -> int:
        new_id: int = self._conn.execute(
            subscriber_plans.insert().values(**values).returning(subscriber_plans.c.id)
        ).scalar_one()
        return new_id

    def set_order_notice(self, subscriber_plan_id: int, message_id: int) -> None:
        self._conn.execute(
            update(subscriber_plans)
            .where(subscriber_plans.c.id == subscriber_plan_id)
            .values(order_notice_mt_id=message_id)
        )

    def included_names(self, plan_ids: Sequence[int]) -> dict[int, list[str]]:
        """The names of the services each plan includes, in service-code order."""
        names: dict[int, list[str]] = defaultdict(list)
        rows = self._conn.execute(
            select(plan_services.c.plan_id, services.c.name)
            .join_from(plan_services, services, plan_services.c.service_id == services.c.id)
            .where(plan_services.c.plan_id.in_(sorted(set(plan_ids))))
            .order_by(plan_services.c.plan_id, services.c.code)
        )
        for plan_id, name in rows:
            names[plan_id].append(name)
        return names

    def effective_notices_due(
        self,
        since: datetime,
        at: datetime,
        in_provinces: Sequence[str],
        after_id: int,
        limit: int,
    ) -> list[PlanNoticeCandidate]:
        """The next chunk of plans that took effect and are not yet announced, locked for us."""
        rows = self._conn.execute(
            select(
                subscriber_plans.c.id,
                subscriber_plans.c.subscriber_id,
                subscriber_plans.c.province,
                subscriber_plans.c.plan_id,
                subscriber_plans.c.effective_from,
                subscribers.c.msisdn,
                subscribers.c.language,
                subscribers.c.status,
                plans.c.code.label("plan_code"),
                plans.c.name.label("plan_name"),
                plans.c.monthly_fee_fen,
            )
            .join_from(subscriber_plans, plans, subscriber_plans.c.plan_id == plans.c.id)
            .join(subscribers, subscriber_plans.c.subscriber_id == subscribers.c.id)
            .where(
                _effective_notice_due(since, at),
                subscriber_plans.c.province.in_(in_provinces),
                subscriber_plans.c.id > after_id,
            )
            .order_by(subscriber_plans.c.id)
            .limit(limit)
            .with_for_update(of=subscriber_plans, skip_locked=True)
        ).all()
        return [_notice(r._mapping) for r in rows]

    def count_effective_notices_due(
        self, since: datetime, at: datetime, in_provinces: Sequence[str]
    ) -> int:
        query = (
            select(func.count())
            .select_from(subscriber_plans)
            .join(subscribers, subscriber_plans.c.subscriber_id == subscribers.c.id)
            .where(_effective_notice_due(since, at), subscriber_plans.c.province.in_(in_provinces))
        )
        return int(self._conn.scalar(query) or 0)

    def record_effective_notices(self, notices: Sequence[tuple[int, int]]) -> None:
        """Link each plan row to its notice; a row announced meanwhile aborts the chunk."""
        if not notices:
            return
        result = self._conn.execute(
            update(subscriber_plans)
            .where(
                subscriber_plans.c.id == bindparam("row"),
                subscriber_plans.c.effective_notice_mt_id.is_(None),
            )
            .values(effective_notice_mt_id=bindparam("message")),
            [{"row": row, "message": mt} for row, mt in notices],
        )
        if result.rowcount != len(notices):
            raise StaleState("a plan in this chunk was announced by someone else")
