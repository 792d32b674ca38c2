"""The partner change feed: what a partner is told, recorded with the change; numbered in
commit order; read page by page; and the webhook a partner registers to have it pushed.

Recording: the use cases that confirm, end or complain about a subscription call the
functions at the top of this module inside their own transaction, so the event exists
exactly when the change does (queued on the unit of work's appends: no extra round trip).

Numbering: ``sequence_feed`` gives ``seq`` to committed rows that have none, in id order,
one sequencer at a time (a named lock). An id is taken at insert, so a row can commit
after one with a higher id; a ``seq`` is only ever given to committed rows and only ever
grows, so a reader continuing after the last ``seq`` it saw never misses a row.

Where the events are: a ``Feed``. ``LocalFeed`` is one database (unsharded: the national
one); ``services.sharded_feed.ShardedFeed`` numbers every shard's rows from one national
counter and reads all shards up to its published mark. The webhooks themselves, and
their cursors, are always the national database's.

Delivery: the last part of this module is the transactions the webhook dispatcher
(``channels/webhooks``) runs between its HTTP calls, never across one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vasguard.domain.access import NotYourService, Principal
from vasguard.domain.catalogue import Subscriber
from vasguard.domain.clock import Clock
from vasguard.domain.events import Event
from vasguard.domain.partner_feed import (
    SEQUENCER_LOCK,
    FeedEvent,
    PartnerEvent,
    PartnerEventKind,
    Webhook,
    check_webhook,
    delivery_error,
    retry_delay,
)
from vasguard.domain.subscription import EndCause, ExpiringOrder, NamedSubscription, PendingOrder
from vasguard.services.unit_of_work import UnitOfWork

Hold = Callable[[str], AbstractContextManager[bool]]
"""Takes a named lock for a block, yielding whether it was free (``store.locks.holding``)."""

NewUow = Callable[[], UnitOfWork]

SEQUENCE_CHUNK = 1000
MAX_PAGE = 500

# How a customer acted, for the events that are not endings (an ending's cause is its
# ``EndCause``).
BY_SMS = "sms"  # the customer's own SMS
BY_API = "api"  # care or the operator through the API, on the customer's word


# --- recorded with the change, inside the caller's transaction ----------------------------


def _told(
    subscriber: Subscriber,
    of: PendingOrder | NamedSubscription,
    kind: PartnerEventKind,
    *,
    cause: str,
    at: datetime,
    ticket: str | None = None,
) -> PartnerEvent:
    """The event about one of the subscriber's orders or subscriptions, as every recorder
    but the expiry job (which has no ``Subscriber`` at hand) writes it."""
    return PartnerEvent(
        provider_id=of.provider_id,
        subscriber_id=subscriber.id,
        province=subscriber.province,
        subscription_id=of.subscription_id,
        kind=kind,
        at=at,
        service_code=of.service_code,
        msisdn=subscriber.msisdn,
        order_ref=of.order_ref,
        cause=cause,
        ticket=ticket,
    )


def order_answered(
    uow: UnitOfWork,
    subscriber: Subscriber,
    order: PendingOrder,
    kind: PartnerEventKind,
    *,
    cause: str,
    at: datetime,
) -> None:
    """A 是 (``CONFIRMED``) or 否 (``DECLINED``) to the partner's order."""
    uow.partner_feed.add(_told(subscriber, order, kind, cause=cause, at=at))


def orders_expired(uow: UnitOfWork, expired: Sequence[ExpiringOrder], *, at: datetime) -> None:
    """Orders of the partner's that the customer never answered (the expiry job)."""
    uow.partner_feed.add_many(
        PartnerEvent(
            provider_id=o.provider_id,
            subscriber_id=o.subscriber_id,
            province=o.province,
            subscription_id=o.subscription_id,
            kind=PartnerEventKind.EXPIRED,
            at=at,
            service_code=o.service_code,
            msisdn=o.msisdn,
            order_ref=o.order_ref,
            cause=EndCause.UNCONFIRMED,
        )
        for o in expired
    )


def subscription_ended(
    uow: UnitOfWork,
    subscriber: Subscriber,
    held: NamedSubscription,
    *,
    cause: EndCause | str,
    at: datetime,
) -> None:
    """A subscription of the partner's service ended; ``cause`` is why (its end cause)."""
    uow.partner_feed.add(
        _told(subscriber, held, PartnerEventKind.CANCELLED, cause=str(cause), at=at)
    )


def complaint_opened(
    uow: UnitOfWork,
    subscriber: Subscriber,
    held: NamedSubscription,
    *,
    ticket: str,
    cause: str,
    at: datetime,
) -> None:
    """A complaint about the partner's service: the ticket, never the customer's text."""
    uow.partner_feed.add(
        _told(
            subscriber, held, PartnerEventKind.COMPLAINT_OPENED, cause=cause, at=at, ticket=ticket
        )
    )


# --- the sequencer -------------------------------------------------------------------------


def sequence_feed(new_uow: NewUow, hold: Hold, *, chunk: int = SEQUENCE_CHUNK) -> int:
    """Number what has committed unnumbered; how many rows. Cheap when there is nothing
    to do (one indexed read); skipped when another sequencer holds the lock, since that
    one is numbering the same rows."""
    with new_uow() as uow:
        if not uow.partner_feed.has_unsequenced():
            return 0
    total = 0
    with hold(SEQUENCER_LOCK) as taken:
        if not taken:
            return 0
        with new_uow() as uow:
            while numbered := uow.partner_feed.sequence(chunk):
                uow.commit()
                total += numbered
                if numbered < chunk:
                    break
    return total


# --- where the feed is ------------------------------------------------------------------


class Feed(Protocol):
    """The feed's events, wherever they are kept, and their numbering."""

    def sequence(self, hold: Hold) -> int:
        """Number what has committed unnumbered (one sequencer at a time); how many."""
        ...

    def page(self, provider_id: int, after: int, limit: int) -> list[FeedEvent]:
        """The provider's events after ``after`` that a reader may see now, in seq order."""
        ...

    def last_seq(self, provider_id: int) -> int:
        """The provider's last seq a reader may see now (0: none)."""
        ...

    def due(self, at: datetime, limit: int) -> list[int]:
        """Providers whose webhook has events past its cursor and is not backing off."""
        ...


@dataclass(frozen=True, slots=True)
class LocalFeed:
    """The feed of one database: its events and its webhooks (an unsharded deployment)."""

    new_uow: NewUow

    def sequence(self, hold: Hold) -> int:
        return sequence_feed(self.new_uow, hold)

    def page(self, provider_id: int, after: int, limit: int) -> list[FeedEvent]:
        with self.new_uow() as uow:
            return uow.partner_feed.page(provider_id, after, limit)

    def last_seq(self, provider_id: int) -> int:
        with self.new_uow() as uow:
            return uow.partner_feed.last_seq(provider_id)

    def due(self, at: datetime, limit: int) -> list[int]:
        with self.new_uow() as uow:
            return [w.provider_id for w in uow.partner_feed.due_webhooks(at, limit)]


# --- the feed ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[FeedEvent]
    next_after: int  # the ``after`` to ask with next: the last seq shown, or the one given
    more: bool  # whether more events are there already


def provider_of(principal: Principal) -> int:
    """The provider a partner key stands for; any other key has no feed."""
    if principal.provider_id is None:
        raise NotYourService("only a partner key has a change feed and a webhook")
    return principal.provider_id


def feed_page(feed: Feed, hold: Hold, principal: Principal, *, after: int, limit: int) -> FeedPage:
    """The principal's provider's events after ``after``, oldest first (numbering what has
    just committed first, so a page is current)."""
    provider_id = provider_of(principal)
    limit = max(1, min(limit, MAX_PAGE))
    feed.sequence(hold)
    events = feed.page(provider_id, after, limit + 1)
    shown = events[:limit]
    return FeedPage(shown, shown[-1].seq if shown else after, len(events) > limit)


# --- webhook registration --------------------------------------------------------------------


def register_webhook(
    uow: UnitOfWork,
    clock: Clock,
    principal: Principal,
    *,
    url: str,
    secret: str,
    after: int | None = None,
    feed: Feed | None = None,
) -> Webhook:
    """Register (or change) the partner's webhook. A new one delivers the events numbered
    after this moment, unless ``after`` says where to start (a feed cursor); a changed
    one keeps its cursor unless ``after`` is given, and is tried again at once. ``feed``
    is where the events are when not in ``uow``'s database (a sharded deployment)."""
    provider_id = provider_of(principal)
    url = check_webhook(url, secret)
    at = clock.now()
    with uow:
        existing = uow.partner_feed.webhook(provider_id)
        start = after
        if start is None and existing is None:
            start = (
                uow.partner_feed.last_seq(provider_id)
                if feed is None
                else feed.last_seq(provider_id)
            )
        uow.partner_feed.put_webhook(
            provider_id, url=url, secret=secret, delivered_seq=start, at=at
        )
        uow.events.add(
            Event(
                None,
                None,
                "webhook",
                provider_id,
                "webhook_registered" if existing is None else "webhook_changed",
                principal.cause,
                at,
                {"url": url, **({"after": start} if start is not None else {})},
            )
        )
        stored = uow.partner_feed.webhook(provider_id)
        uow.commit()
    assert stored is not None
    return stored


def get_webhook(uow: UnitOfWork, principal: Principal) -> Webhook | None:
    provider_id = provider_of(principal)
    with uow:
        return uow.partner_feed.webhook(provider_id)


def remove_webhook(uow: UnitOfWork, clock: Clock, principal: Principal) -> bool:
    """Stop pushing the feed (it stays readable); whether there was a webhook."""
    provider_id = provider_of(principal)
    at = clock.now()
    with uow:
        removed = uow.partner_feed.delete_webhook(provider_id)
        if removed:
            uow.events.add(
                Event(None, None, "webhook", provider_id, "webhook_removed", principal.cause, at)
            )
        uow.commit()
    return removed


# --- delivery: the dispatcher's transactions, each short, none across an HTTP call -----------


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one POST carries: the next events after the webhook's cursor."""

    webhook: Webhook
    events: list[FeedEvent]

    @property
    def through(self) -> int:
        return self.events[-1].seq


def due_webhooks(feed: Feed, at: datetime, *, limit: int = 1000) -> list[int]:
    """Providers whose webhook has events to deliver and is not backing off."""
    return feed.due(at, limit)


def next_delivery(
    new_uow: NewUow, feed: Feed, provider_id: int, at: datetime, *, batch: int
) -> Delivery | None:
    """The provider's next POST, read afresh (its webhook may have changed or gone):
    the webhook from ``new_uow``'s database, the events from ``feed``."""
    with new_uow() as uow:
        webhook = uow.partner_feed.webhook(provider_id)
    if webhook is None or (webhook.next_attempt_at is not None and webhook.next_attempt_at > at):
        return None
    events = feed.page(provider_id, webhook.delivered_seq, batch)
    return Delivery(webhook, events) if events else None


def record_delivered(new_uow: NewUow, delivery: Delivery) -> bool:
    """A 2xx: the cursor moves past the batch (``False``: the webhook changed meanwhile)."""
    with new_uow() as uow:
        moved = uow.partner_feed.delivered(
            delivery.webhook.provider_id,
            after=delivery.webhook.delivered_seq,
            through=delivery.through,
        )
        uow.commit()
    return moved


def record_failed(
    new_uow: NewUow,
    clock: Clock,
    delivery: Delivery,
    error: str,
    *,
    backoff_min: float,
    backoff_max: float,
    rng: random.Random | None = None,
) -> datetime:
    """Anything but a 2xx in time: the same events are tried again after the back-off;
    when that is."""
    attempts = delivery.webhook.attempts + 1
    retry_at = clock.now() + retry_delay(attempts, backoff_min, backoff_max, rng)
    with new_uow() as uow:
        uow.partner_feed.failed(
            delivery.webhook.provider_id,
            after=delivery.webhook.delivered_seq,
            attempts=attempts,
            retry_at=retry_at,
            error=delivery_error(error),
        )
        uow.commit()
    return retry_at
