"""Rules for taking an order and for matching a customer's 是/否 reply to it (二次确认)."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vasguard.domain.catalogue import BillingMode, Service, Subscriber
from vasguard.domain.refusals import RefusedBecause
from vasguard.domain.subscription import PendingOrder

CONFIRMATION_WINDOW = timedelta(hours=24)


class Refusal(StrEnum):
    """Why an order or a reply was turned down; each has a message fit for the caller."""

    SUBSCRIBER_INACTIVE = "subscriber_inactive"
    UNKNOWN_SERVICE = "unknown_service"
    SERVICE_WITHDRAWN = "service_withdrawn"
    NOT_MONTHLY = "not_monthly"
    ALREADY_HELD = "already_held"
    INCLUDED_IN_PLAN = "included_in_plan"
    NOTHING_OPEN = "nothing_open"
    SEVERAL_OPEN = "several_open"
    NO_SUCH_CODE = "no_such_code"
    EXPIRED = "expired"


class OrderRefused(RefusedBecause[Refusal]):
    """An order cannot be taken; nothing was changed."""


def check_order(
    subscriber: Subscriber,
    service: Service,
    *,
    already_held: bool,
    included_in_plan: bool,
    withdrawn: bool = False,
) -> None:
    """Raise ``OrderRefused`` when this subscriber may not order this service now."""
    if subscriber.status != "active":
        raise OrderRefused(
            Refusal.SUBSCRIBER_INACTIVE,
            f"subscriber {subscriber.msisdn} is {subscriber.status}; only active numbers order",
        )
    if withdrawn:
        raise OrderRefused(
            Refusal.SERVICE_WITHDRAWN, f"service {service.code} is no longer offered"
        )
    if service.billing_mode is not BillingMode.MONTHLY:
        raise OrderRefused(
            Refusal.NOT_MONTHLY,
            f"service {service.code} is billed {service.billing_mode}; "
            "only monthly services are ordered as subscriptions",
        )
    if included_in_plan:
        raise OrderRefused(
            Refusal.INCLUDED_IN_PLAN,
            f"service {service.code} is already included in {subscriber.msisdn}'s plan",
        )
    if already_held:
        raise OrderRefused(
            Refusal.ALREADY_HELD,
            f"{subscriber.msisdn} already holds or has a pending order for {service.code}",
        )


def allocate_code(open_codes: Collection[str], rng: random.Random) -> str:
    """A 4-digit confirmation code not used by any of the subscriber's open requests.

    Codes are random so that a partner cannot predict them and confirm on the
    customer's behalf; ``rng`` is injected so tests are deterministic.
    """
    if len(open_codes) >= 9000:
        raise OrderRefused(Refusal.SEVERAL_OPEN, "too many open confirmation requests")
    while True:
        code = f"{rng.randrange(1000, 10000)}"
        if code not in open_codes:
            return code


@dataclass(frozen=True, slots=True)
class ReplyMatch:
    """The outcome of matching a 是/否 reply: the order it means, or why none."""

    order: PendingOrder | None
    refusal: Refusal | None
    candidates: tuple[PendingOrder, ...] = ()


def match_reply(pending: Sequence[PendingOrder], code: str | None, at: datetime) -> ReplyMatch:
    """Decide which pending order a 是/否 reply refers to.

    A bare reply counts only when exactly one request is open: an ambiguous reply
    changes nothing (invariant 7). An expired request can no longer be answered.
    """
    live = [p for p in pending if p.open_at(at)]
    if code is not None:
        for order in pending:
            if order.code == code:
                if order.open_at(at):
                    return ReplyMatch(order, None)
                return ReplyMatch(None, Refusal.EXPIRED, (order,))
        return ReplyMatch(None, Refusal.NO_SUCH_CODE, tuple(live))
    if not live:
        expired = tuple(p for p in pending if not p.open_at(at))
        return ReplyMatch(None, Refusal.EXPIRED if expired else Refusal.NOTHING_OPEN, expired)
    if len(live) > 1:
        return ReplyMatch(None, Refusal.SEVERAL_OPEN, tuple(live))
    return ReplyMatch(live[0], None)
