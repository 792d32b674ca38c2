"""Orders with double confirmation (二次确认): placed, then confirmed or declined by SMS."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime

from vasguard.domain.access import Principal, check_provider, sees_province
from vasguard.domain.catalogue import (
    MOVING,
    Service,
    Subscriber,
    SubscriberMoving,
    UnknownSubscriber,
)
from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, Event
from vasguard.domain.messages import MessageKind
from vasguard.domain.msisdn import normalise
from vasguard.domain.ordering import (
    OrderRefused,
    Refusal,
    allocate_code,
    check_order,
)
from vasguard.domain.partner_feed import PartnerEventKind
from vasguard.domain.subscription import Channel, EndCause, PendingOrder, State
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.messaging import queue_mt
from vasguard.services.partner_feed import BY_API, BY_SMS, order_answered, orders_expired
from vasguard.services.unit_of_work import UnitOfWork

_system_random = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    subscription_id: int
    msisdn: str
    service_code: str
    code: str
    confirm_by: datetime
    request_message_id: int
    request_text: str


def find_subscriber(
    uow: UnitOfWork, raw_msisdn: str, principal: Principal | None = None
) -> Subscriber:
    """Normalise the number and load its subscriber, or refuse with a clear reason (a
    subscriber out of ``principal``'s scope is unknown to it)."""
    msisdn = normalise(raw_msisdn)
    subscriber = uow.subscribers.by_msisdn(msisdn)
    if subscriber is None or not sees_province(principal, subscriber.province):
        raise UnknownSubscriber(msisdn)
    if subscriber.status == MOVING:  # a change now would stay behind on the old shard
        raise SubscriberMoving(msisdn)
    return subscriber


def find_service(uow: UnitOfWork, code: str) -> Service:
    service = uow.catalogue.service_by_code(code.strip())
    if service is None:
        raise OrderRefused(Refusal.UNKNOWN_SERVICE, f"there is no service with code {code!r}")
    return service


def place_order(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    msisdn: str,
    service_code: str,
    channel: Channel,
    cause: Cause,
    order_ref: str | None = None,
    rng: random.Random | None = None,
    principal: Principal | None = None,
) -> OrderPlaced:
    """Record a pending order and queue the confirmation request; nothing is charged yet.

    Raises ``OrderRefused`` (and changes nothing) for unknown numbers or services,
    services that are not monthly, already held, or included in the subscriber's plan.
    """
    at = clock.now()
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        service = find_service(uow, service_code)
        check_provider(principal, service.provider_id, service.code)
        check_order(
            subscriber,
            service,
            already_held=uow.subscriptions.holds(subscriber.id, service.id),
            included_in_plan=uow.catalogue.included_in_plan(subscriber.id, service.id, at),
            withdrawn=uow.catalogue.is_withdrawn(service.id, at),
        )
        code = allocate_code(uow.subscriptions.open_codes(subscriber.id, at), rng or _system_random)
        confirm_by = at + deployment.confirmation_window
        subscription_id = uow.subscriptions.add_pending(
            subscriber_id=subscriber.id,
            province=subscriber.province,
            service_id=service.id,
            channel=channel.value,
            order_ref=order_ref,
            ordered_at=at,
            confirmation_code=code,
            confirm_by=confirm_by,
        )
        text = templates_for(deployment, subscriber).order_confirmation_request(
            provider=service.provider_name,
            service=service.name,
            price_fen=service.price_fen,
            code=code,
            valid_hours=int(deployment.confirmation_window.total_seconds() // 3600),
        )
        message_id = queue_mt(
            uow,
            deployment,
            subscriber,
            kind=MessageKind.CONFIRMATION_REQUEST,
            text=text,
            at=at,
            subscription_id=subscription_id,
        )
        uow.subscriptions.set_request_message(subscription_id, message_id)
        uow.events.add(
            Event(
                subscriber.id,
                subscriber.province,
                "subscription",
                subscription_id,
                "ordered",
                cause,
                at,
                {"service": service.code, "channel": channel.value, "request_mt": message_id},
            )
        )
        uow.commit()
    return OrderPlaced(
        subscription_id, subscriber.msisdn, service.code, code, confirm_by, message_id, text
    )


def confirm_order(
    uow: UnitOfWork,
    subscriber: Subscriber,
    order: PendingOrder,
    *,
    mo_id: int,
    at: datetime,
    cause: Cause | None = None,
) -> None:
    """Make a matched pending order active, with the confirming MO as its evidence.

    ``cause``: who the event names, when not that MO (care, confirming on the customer's
    behalf with the code they read out)."""
    uow.subscriptions.move(
        order.subscription_id,
        State.PENDING,
        State.ACTIVE,
        confirmed_at=at,
        confirmation_mo_id=mo_id,
    )
    _answered(uow, subscriber, order, "confirmed", mo_id=mo_id, at=at, cause=cause)
    how = BY_SMS if cause is None else BY_API  # care, with the code the customer read out
    order_answered(uow, subscriber, order, PartnerEventKind.CONFIRMED, cause=how, at=at)


def decline_order(
    uow: UnitOfWork,
    subscriber: Subscriber,
    order: PendingOrder,
    *,
    mo_id: int,
    at: datetime,
) -> None:
    uow.subscriptions.move(
        order.subscription_id,
        State.PENDING,
        State.CANCELLED,
        ended_at=at,
        end_cause=EndCause.DECLINED.value,
        end_message_id=mo_id,
    )
    _answered(uow, subscriber, order, EndCause.DECLINED, mo_id=mo_id, at=at)
    order_answered(
        uow, subscriber, order, PartnerEventKind.DECLINED, cause=EndCause.DECLINED, at=at
    )


def _answered(
    uow: UnitOfWork,
    subscriber: Subscriber,
    order: PendingOrder,
    kind: str,
    *,
    mo_id: int,
    at: datetime,
    cause: Cause | None = None,
) -> None:
    """The event of a 是/否: the answering MO is its cause, unless another is given."""
    uow.events.add(
        Event(
            subscriber.id,
            subscriber.province,
            "subscription",
            order.subscription_id,
            kind,
            cause or Cause.mo(mo_id),
            at,
            {"service": order.service_code, "mo": mo_id},
        )
    )


def expire_orders(uow: UnitOfWork, clock: Clock, *, cause: Cause, chunk: int = 5000) -> int:
    """Expire every pending order whose window has closed, in chunks; safe to re-run."""
    at = clock.now()
    total = 0
    with uow:
        while batch := uow.subscriptions.due_expiry(at, chunk):
            expired = uow.subscriptions.expire([o.subscription_id for o in batch], at)
            ended = [o for o in batch if o.subscription_id in expired]
            uow.events.add_many(
                Event(
                    o.subscriber_id,
                    o.province,
                    "subscription",
                    o.subscription_id,
                    "expired",
                    cause,
                    at,
                )
                for o in ended
            )
            orders_expired(uow, ended, at=at)
            uow.commit()
            total += len(ended)
    return total
