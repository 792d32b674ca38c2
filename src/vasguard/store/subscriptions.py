"""Subscriptions: the writes of the order life cycle, each guarded by the expected state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, exists, func, or_, select, update

from vasguard.domain.catalogue import BillingMode
from vasguard.domain.listing import ListingCandidate
from vasguard.domain.subscription import (
    OPEN_STATES,
    EndCause,
    ExpiringOrder,
    NamedSubscription,
    PendingOrder,
    State,
)
from vasguard.store.catalogue import plan_includes
from vasguard.store.prepared import Prepared
from vasguard.store.tables import (
    PENDING_CONFIRMATION,
    charges,
    providers,
    services,
    subscribers,
    subscriptions,
)
from vasguard.store.types import UtcDateTime


class StaleState(RuntimeError):
    """The row was not in the expected state: someone else moved it first."""


_OPEN = [state.value for state in OPEN_STATES]
_SUBSCRIBER = subscriptions.c.subscriber_id == bindparam("subscriber_id")

# The online dialogue's statements are built once (see store.subscribers); the 0000
# listing's and the cancel's run through store.prepared.
_HOLDINGS = Prepared(
    select(
        subscriptions.c.id,
        services.c.code,
        services.c.name,
        providers.c.name,
        services.c.price_fen,
        services.c.billing_mode,
        services.c.group_service,
        subscriptions.c.state,
        subscriptions.c.ordered_at,
        plan_includes(
            subscriptions.c.subscriber_id,
            subscriptions.c.service_id,
            bindparam("at", type_=UtcDateTime()),
        ).label("in_plan"),
    )
    .join_from(subscriptions, services)
    .join(providers)
    .where(_SUBSCRIBER, subscriptions.c.state == State.ACTIVE.value)
)

# What a reply about a held subscription needs, as columns and back (see ``named_subscription``).
NAMED_COLUMNS = (
    subscriptions.c.id,
    subscriptions.c.state,
    services.c.id,
    services.c.code,
    services.c.name,
    providers.c.id,
    providers.c.name,
    select(func.count())
    .where(charges.c.subscription_id == subscriptions.c.id)
    .scalar_subquery()
    .label("charges"),
    subscriptions.c.order_ref,
)


def named_subscription(row: Sequence[Any]) -> NamedSubscription:
    """A ``NamedSubscription`` from a row that starts with ``NAMED_COLUMNS``."""
    return NamedSubscription(
        row[0], State(row[1]), row[2], row[3], row[4], row[5], row[6], row[7] > 0, row[8]
    )


_HELD = select(*NAMED_COLUMNS).join_from(subscriptions, services).join(providers).where(_SUBSCRIBER)
_HELD_BY_CODE = _HELD.where(
    services.c.code == bindparam("code"), subscriptions.c.state.in_(_OPEN)
).order_by(subscriptions.c.id)
_BY_CODE_ANY_STATE = _HELD.where(services.c.code == bindparam("code")).order_by(
    subscriptions.c.id.desc()
)
_OPEN_HELD = _HELD.where(subscriptions.c.state.in_(_OPEN)).order_by(subscriptions.c.id)
_REMINDED = _HELD.where(subscriptions.c.reminder_mt_id.is_not(None)).order_by(
    subscriptions.c.reminder_mt_id.desc()
)
# Open states spelt out, not IN (list): a list is expanded per call, which Prepared refuses.
_CANCEL = Prepared(
    update(subscriptions)
    .where(
        subscriptions.c.id == bindparam("subscription_id"),
        or_(*(subscriptions.c.state == state for state in _OPEN)),
    )
    .values(
        state=State.CANCELLED.value,
        ended_at=bindparam("at"),
        end_cause=bindparam("cause"),
        end_message_id=bindparam("message_id"),
    )
)


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
                providers.c.id,
                subscriptions.c.order_ref,
            )
            .join_from(subscriptions, services)
            .join(providers)
            .where(
                subscriptions.c.subscriber_id == subscriber_id,
                subscriptions.c.state == State.PENDING.value,
            )
            .order_by(subscriptions.c.ordered_at, subscriptions.c.id)
        ).all()
        return [PendingOrder(*tuple(row)) for row in rows]

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

    def due_expiry(self, at: datetime, limit: int) -> list[ExpiringOrder]:
        """Pending orders whose confirmation window has closed, in id order."""
        rows = self._conn.execute(
            select(
                subscriptions.c.id,
                subscriptions.c.subscriber_id,
                subscriptions.c.province,
                services.c.provider_id,
                services.c.code,
                subscribers.c.msisdn,
                subscriptions.c.order_ref,
            )
            .join_from(subscriptions, services)
            .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
            .where(PENDING_CONFIRMATION, subscriptions.c.confirm_by <= at)
            .order_by(subscriptions.c.id)
            .limit(limit)
        ).all()
        return [ExpiringOrder(*r) for r in rows]

    def expire(self, ids: list[int], at: datetime) -> set[int]:
        """Expire those of ``ids`` still pending; the ids expired (one confirmed meanwhile
        is not among them)."""
        result = self._conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id.in_(ids), subscriptions.c.state == State.PENDING.value)
            .values(state=State.EXPIRED.value, ended_at=at, end_cause=EndCause.UNCONFIRMED.value)
            .returning(subscriptions.c.id)
        )
        return set(result.scalars())

    def listing_candidates(self, subscriber_id: int, at: datetime) -> list[ListingCandidate]:
        """The subscriber's active subscriptions, flagged when their plan already includes them."""
        rows = _HOLDINGS.rows(self._conn, {"subscriber_id": subscriber_id, "at": at})
        return [
            ListingCandidate(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                BillingMode(r[5]),
                bool(r[6]),
                State(r[7]),
                r[8],
                bool(r[9]),
            )
            for r in rows
        ]

    def _named(self, statement: Select[Any], **params: Any) -> list[NamedSubscription]:
        return [named_subscription(row) for row in self._conn.execute(statement, params)]

    def held_by_code(self, subscriber_id: int, service_code: str) -> list[NamedSubscription]:
        """Open (active or pending) subscriptions of the subscriber to the service code."""
        return self._named(_HELD_BY_CODE, subscriber_id=subscriber_id, code=service_code)

    def by_code_any_state(self, subscriber_id: int, service_code: str) -> list[NamedSubscription]:
        """Every subscription of the subscriber to the service code, newest first."""
        return self._named(_BY_CODE_ANY_STATE, subscriber_id=subscriber_id, code=service_code)

    def named(self, subscriber_id: int, ids: Sequence[int]) -> list[NamedSubscription]:
        """The subscriber's subscriptions among ``ids``, any state, in id order (another
        subscriber's ids are not among them)."""
        return self._named(
            _HELD.where(subscriptions.c.id.in_(sorted(set(ids)))).order_by(subscriptions.c.id),
            subscriber_id=subscriber_id,
        )

    def open_ones(self, subscriber_id: int) -> list[NamedSubscription]:
        """Every open (active or pending) subscription of the subscriber, in id order."""
        return self._named(_OPEN_HELD, subscriber_id=subscriber_id)

    def reminded(self, subscriber_id: int) -> list[NamedSubscription]:
        """Subscriptions with a charge reminder, newest reminder first (any state)."""
        return self._named(_REMINDED, subscriber_id=subscriber_id)

    def cancel(
        self, subscription_id: int, *, at: datetime, cause: str, message_id: int | None
    ) -> bool:
        """End an open subscription; ``False`` if it was no longer open."""
        changed = _CANCEL.run(
            self._conn,
            {
                "subscription_id": subscription_id,
                "at": at,
                "cause": cause,
                "message_id": message_id,
            },
        )
        return changed == 1
