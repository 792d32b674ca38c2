"""Pages of the API's lists: services, providers, plans, subscribers and subscriptions.

Every page is ``WHERE filters AND id > after ORDER BY id LIMIT n`` (keyset, see
``channels/http/pages.py``), so a page costs the same at the millionth row as at the
first; each filter has an index with the id after it (migration 0009) or is one
subscriber's few rows. Scope (a partner's provider, a provincial key's province) arrives
here as one more filter, decided by the services.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, Select, or_, select

from vasguard.domain.catalogue import Provider, Service, Subscriber
from vasguard.domain.plans import Plan
from vasguard.domain.subscription import State, SubscriptionRecord
from vasguard.store.catalogue import service_from_row, service_select
from vasguard.store.tables import plans, providers, services, subscribers, subscriptions

_SUBSCRIPTION = (
    select(
        subscriptions.c.id,
        subscriptions.c.subscriber_id,
        subscribers.c.msisdn,
        subscriptions.c.province,
        services.c.code,
        services.c.name,
        providers.c.id,
        providers.c.code,
        subscriptions.c.state,
        subscriptions.c.channel,
        subscriptions.c.order_ref,
        subscriptions.c.ordered_at,
        subscriptions.c.confirm_by,
        subscriptions.c.confirmed_at,
        subscriptions.c.ended_at,
        subscriptions.c.end_cause,
    )
    .join_from(subscriptions, subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
    .join(services, services.c.id == subscriptions.c.service_id)
    .join(providers, providers.c.id == services.c.provider_id)
)


def _like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE: its wildcards and the escape escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record(row: Any) -> SubscriptionRecord:
    values = list(row)
    values[8] = State(values[8])
    return SubscriptionRecord(*values)


def _biggest(id_column: Any) -> int:
    """The largest id the column holds: a cursor beyond it must not reach the database
    (PostgreSQL refuses an ``integer`` compared with a bigger number)."""
    return 2**63 - 1 if isinstance(id_column.type, BigInteger) else 2**31 - 1


class BrowseRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _page(self, query: Select[Any], id_column: Any, after: int, limit: int) -> Any:
        """The page after ``after``; one past an ``Integer`` column's range is empty."""
        after = min(after, _biggest(id_column))
        return self._conn.execute(
            query.where(id_column > after).order_by(id_column).limit(limit)
        ).all()

    def services(
        self,
        *,
        search: str | None,
        provider_id: int | None,
        exempt: bool | None,
        after: int,
        limit: int,
    ) -> list[Service]:
        """Services whose code starts with ``search`` or whose name contains it.

        The name is matched by a scan (no index serves a substring, and the names are
        Chinese, mostly shorter than a trigram): about 0.1 s over 200,000 services on
        PostgreSQL; a partner's search, narrowed to its provider, is an index range. LIKE,
        not ILIKE, which costs four times as much: Latin letters match case-sensitively on
        PostgreSQL (SQLite's LIKE ignores their case).
        """
        query = service_select
        if search:
            pattern = _like_escaped(search)
            query = query.where(
                or_(
                    services.c.code.like(pattern + "%", escape="\\"),
                    services.c.name.like("%" + pattern + "%", escape="\\"),
                )
            )
        if provider_id is not None:
            query = query.where(services.c.provider_id == provider_id)
        if exempt is not None:
            reason = services.c.reminder_exempt_reason
            query = query.where(reason.is_not(None) if exempt else reason.is_(None))
        rows = self._page(query, services.c.id, after, limit)
        return [service_from_row(r._mapping) for r in rows]

    def providers(self, *, provider_id: int | None, after: int, limit: int) -> list[Provider]:
        query = select(
            providers.c.id,
            providers.c.code,
            providers.c.name,
            providers.c.kind,
            providers.c.access_number,
        )
        if provider_id is not None:
            query = query.where(providers.c.id == provider_id)
        return [Provider(*r) for r in self._page(query, providers.c.id, after, limit)]

    def plans(self, *, after: int, limit: int) -> list[Plan]:
        query = select(plans.c.id, plans.c.code, plans.c.name, plans.c.monthly_fee_fen)
        return [Plan(*r) for r in self._page(query, plans.c.id, after, limit)]

    def subscribers(
        self, *, province: str | None, status: str | None, after: int, limit: int
    ) -> list[Subscriber]:
        query = select(
            subscribers.c.id,
            subscribers.c.msisdn,
            subscribers.c.province,
            subscribers.c.language,
            subscribers.c.status,
        )
        if province is not None:
            query = query.where(subscribers.c.province == province)
        if status is not None:
            query = query.where(subscribers.c.status == status)
        return [Subscriber(*r) for r in self._page(query, subscribers.c.id, after, limit)]

    def subscriptions(
        self,
        *,
        subscriber_id: int | None,
        service_id: int | None,
        state: State | None,
        provider_id: int | None,
        province: str | None,
        after: int,
        limit: int,
    ) -> list[SubscriptionRecord]:
        query = _SUBSCRIPTION
        if subscriber_id is not None:
            query = query.where(subscriptions.c.subscriber_id == subscriber_id)
        if service_id is not None:
            query = query.where(subscriptions.c.service_id == service_id)
        if state is not None:
            query = query.where(subscriptions.c.state == state.value)
        if provider_id is not None:
            query = query.where(services.c.provider_id == provider_id)
        if province is not None:
            query = query.where(subscriptions.c.province == province)
        return [_record(r) for r in self._page(query, subscriptions.c.id, after, limit)]

    def subscription(self, subscription_id: int) -> SubscriptionRecord | None:
        row = self._conn.execute(_SUBSCRIPTION.where(subscriptions.c.id == subscription_id)).first()
        return _record(row) if row else None
