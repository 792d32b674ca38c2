"""Cancelling subscriptions: one place that ends them, records why, and says so.

An MO (TD, 0000 item numbers, QX) and care or the operator through the API end
subscriptions here alike: the same life-cycle guard, the same event, the same voiding.
Ending a subscription also voids, in the same transaction, its charges for periods it was
never in service for (invariant 10): a bill run made early may already have charged next
month, and the reply's "no further charges" must stay true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.events import Cause, Event
from vasguard.domain.messages import MessageKind
from vasguard.domain.refunds import voided_by_ending
from vasguard.domain.subscription import EndCause, NamedSubscription, State, can_move
from vasguard.domain.templates import Cancellation
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.handled_mo import HandledMo
from vasguard.services.messaging import queue_mt
from vasguard.services.partner_feed import subscription_ended
from vasguard.services.resolutions import add_refund
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Ending:
    """Whose subscriptions end, when, why, and on whose word: the MO that asked (its id is
    the subscription's ``end_message_id``) or an API principal (no message)."""

    uow: UnitOfWork
    subscriber: Subscriber
    at: datetime
    cause: Cause
    end_cause: EndCause
    timezone: str
    message_id: int | None = None
    reason: str | None = None  # staff's words for a cancellation they made, kept in its event


@dataclass(frozen=True, slots=True)
class Ended:
    """One subscription cancelled now, and the charges its ending voided."""

    subscription: NamedSubscription
    voided_charge_ids: list[int]


def end_subscriptions(
    ending: Ending, held: Sequence[NamedSubscription]
) -> tuple[list[Ended], list[NamedSubscription]]:
    """Cancel what is still open among ``held``: what was cancelled now, and what had
    already ended (nothing about those changes)."""
    done: list[Ended] = []
    already: list[NamedSubscription] = []
    uow = ending.uow
    for item in held:
        if not can_move(item.state, State.CANCELLED) or not uow.subscriptions.cancel(
            item.subscription_id,
            at=ending.at,
            cause=ending.end_cause,
            message_id=ending.message_id,
        ):
            already.append(item)
            continue
        # Only a subscription ever charged can have a charge to void.
        voided = _void_unserved(ending, item.subscription_id) if item.charged else []
        uow.events.add(
            Event(
                ending.subscriber.id,
                ending.subscriber.province,
                "subscription",
                item.subscription_id,
                "cancelled",
                ending.cause,
                ending.at,
                {
                    "service": item.service_code,
                    "via": ending.end_cause,
                    "charged": item.charged,
                    "voided": voided,
                    **({"reason": ending.reason} if ending.reason else {}),
                },
            )
        )
        subscription_ended(uow, ending.subscriber, item, cause=ending.end_cause, at=ending.at)
        done.append(Ended(item, voided))
    return done, already


def cancel_held(mo: HandledMo, held: Sequence[NamedSubscription], *, cause: EndCause) -> None:
    """Cancel what is still open among ``held`` and reply naming every service.

    Items already ended are named as such; nothing else about them changes.
    """
    ending = Ending(
        mo.uow, mo.subscriber, mo.at, Cause.mo(mo.id), cause, mo.deployment.timezone, mo.id
    )
    done, already = end_subscriptions(ending, held)
    t = mo.templates
    if done:
        mo.reply(t.cancelled(cancellations(done)))
    if already:
        mo.reply(t.already_cancelled([h.service_name for h in already]))


def cancellations(done: Sequence[Ended]) -> list[Cancellation]:
    """What the customer is told of each cancelled service."""
    return [Cancellation(e.subscription.service_name, e.subscription.charged) for e in done]


def tell_cancelled(
    uow: UnitOfWork,
    deployment: Deployment,
    subscriber: Subscriber,
    done: Sequence[Ended],
    at: datetime,
    *,
    send_after: datetime | None = None,
) -> int:
    """Queue, for an ending not asked for by SMS (the API, the customer's page), the SMS an
    SMS cancellation would have replied: the handset hears of every ending the same way.
    ``send_after``: when it may go (``None``: at once); its id."""
    return queue_mt(
        uow,
        deployment,
        subscriber,
        kind=MessageKind.CANCELLED,
        text=templates_for(deployment, subscriber).cancelled(cancellations(done)),
        at=at,
        send_after=send_after,
    )


def _void_unserved(ending: Ending, subscription_id: int) -> list[int]:
    """Refund in full the charges of periods beginning at or after the ending; the ids of
    the charges voided."""
    scope = voided_by_ending(ending.subscriber.id, subscription_id, ending.at, ending.timezone)
    if scope is None:
        return []
    uow = ending.uow
    made = [
        add_refund(uow, charge, charge.amount_fen, None, ending.cause, ending.at, event="voided")
        for charge in uow.resolutions.unrefunded(scope)
    ]
    return [r.charge_id for r in made if r is not None]
