"""Subscriptions through the API: reads within the caller's scope, care's confirmation on
the customer's behalf, and cancellations by care or the operator.

Scope is decided here, in the transaction: a partner key sees its own provider's
subscriptions only, a provincial key its province's; anything else reads as unknown.
A confirmation by care follows the rules of the customer's own 是: the order must await
its answer, the code must be the one sent for it, the window must be open. A
cancellation goes through the same ending as an SMS one (``services.cancellation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vasguard.domain.access import Principal, sees_province
from vasguard.domain.clock import Clock
from vasguard.domain.messages import NewMo
from vasguard.domain.msisdn import normalise
from vasguard.domain.ordering import OrderRefused, Refusal, match_reply
from vasguard.domain.subscription import (
    EndCause,
    NamedSubscription,
    NotPending,
    State,
    SubscriptionRecord,
    UnknownSubscription,
)
from vasguard.services.cancellation import Ended, Ending, end_subscriptions, tell_cancelled
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.handled_mo import HandledMo
from vasguard.services.messaging import notice_due
from vasguard.services.orders import confirm_order, find_subscriber
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Confirmed:
    subscription_id: int
    service_code: str
    confirmed_at: datetime
    consent_message_id: int  # the stored 是{code}: the confirmation's evidence
    reply: str  # what the customer is sent, as after their own 是


@dataclass(frozen=True, slots=True)
class Cancelled:
    ended: list[Ended]
    already_ended: list[NamedSubscription]
    notice_message_id: int | None  # the SMS telling the customer, if anything ended


def _visible(principal: Principal | None, record: SubscriptionRecord) -> bool:
    return principal is None or (
        principal.sees_province(record.province) and principal.sees_provider(record.provider_id)
    )


def _unknown(subscription_id: int) -> UnknownSubscription:
    return UnknownSubscription(f"there is no subscription {subscription_id}")


def list_subscriptions(
    uow: UnitOfWork,
    principal: Principal | None,
    *,
    msisdn: str | None,
    service_code: str | None,
    state: State | None,
    after: int,
    limit: int,
) -> list[SubscriptionRecord]:
    """A page of the subscriptions ``principal`` may see, by number, service and state (a
    number or a service it may not see, or that does not exist, has none)."""
    with uow:
        subscriber_id = None
        if msisdn is not None:
            subscriber = uow.subscribers.by_msisdn(normalise(msisdn))
            if subscriber is None or not sees_province(principal, subscriber.province):
                return []
            subscriber_id = subscriber.id
        service_id = None
        if service_code is not None:
            service = uow.catalogue.service_by_code(service_code)
            if service is None:
                return []
            service_id = service.id
        return uow.browse.subscriptions(
            subscriber_id=subscriber_id,
            service_id=service_id,
            state=state,
            provider_id=principal.provider_id if principal is not None else None,
            province=principal.province if principal is not None else None,
            after=after,
            limit=limit,
        )


def subscriptions_of(
    uow: UnitOfWork, msisdn: str, principal: Principal | None, *, after: int, limit: int
) -> list[SubscriptionRecord]:
    """A page of one number's subscriptions, any state; a number out of scope is unknown."""
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        return uow.browse.subscriptions(
            subscriber_id=subscriber.id,
            service_id=None,
            state=None,
            provider_id=principal.provider_id if principal is not None else None,
            province=None,
            after=after,
            limit=limit,
        )


def find_subscription(
    uow: UnitOfWork, subscription_id: int, principal: Principal | None
) -> SubscriptionRecord:
    with uow:
        record = uow.browse.subscription(subscription_id)
    if record is None or not _visible(principal, record):
        raise _unknown(subscription_id)
    return record


def confirm_for_customer(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    subscription_id: int,
    code: str,
    principal: Principal,
) -> Confirmed:
    """Care confirms a pending order with the code the customer reads out from the request.

    The code is stored as the customer's 是{code} (an MO of kind ``care_consent``, the
    evidence the bill run and the audit ask for); the event names the key. Refuses, and
    changes nothing, for an order not awaiting confirmation, a wrong code or a closed window.
    """
    at = clock.now()
    with uow:
        record = uow.browse.subscription(subscription_id)
        if record is None or not _visible(principal, record):
            raise _unknown(subscription_id)
        subscriber = uow.subscribers.by_id(record.subscriber_id)
        assert subscriber is not None, "a subscription's subscriber is a foreign key"
        pending = uow.subscriptions.pending_orders(subscriber.id)
        order = next((p for p in pending if p.subscription_id == subscription_id), None)
        if order is None:
            raise NotPending(
                f"subscription {subscription_id} is {record.state}: "
                "only an order awaiting its confirmation can be confirmed"
            )
        match = match_reply([order], code, at)
        if match.refusal is Refusal.EXPIRED:
            raise OrderRefused(
                Refusal.EXPIRED,
                f"the confirmation window of subscription {subscription_id} has closed; "
                "the partner must order again",
            )
        if match.order is None:
            raise OrderRefused(
                Refusal.NO_SUCH_CODE,
                f"{code} is not the code sent to the customer for subscription "
                f"{subscription_id}; ask them to read it from the request SMS",
            )
        text = f"是{code}"
        consent = uow.messages.record_consent(
            NewMo(subscriber.msisdn, deployment.service_number, text, None, at)
        )
        mo = HandledMo(
            uow, deployment, subscriber, consent, text, at, templates_for(deployment, subscriber)
        )
        confirm_order(uow, subscriber, order, mo_id=consent, at=at, cause=principal.cause)
        mo.reply(
            mo.templates.order_confirmed(
                provider=order.provider_name, service=order.service_name, price_fen=order.price_fen
            ),
            subscription_id=order.subscription_id,
        )
        uow.commit()
    return Confirmed(subscription_id, order.service_code, at, consent, mo.replies[0])


def cancel_for_customer(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    msisdn: str,
    subscription_ids: Sequence[int] | None,
    principal: Principal,
    reason: str | None = None,
) -> Cancelled:
    """Cancel some of a subscriber's subscriptions (``None``: every open one) on care's
    or the operator's word, and tell the customer by SMS inside the sending window.

    All or nothing: an id that is not one of the subscriber's (or not the caller's to see)
    refuses them all. One already ended is reported as such and left as it is. ``reason``,
    staff's words for it, is kept in each cancellation's event.
    """
    at = clock.now()
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        if subscription_ids is None:
            found = uow.subscriptions.open_ones(subscriber.id)
        else:
            found = uow.subscriptions.named(subscriber.id, subscription_ids)
        held = [h for h in found if principal.sees_provider(h.provider_id)]
        missing = sorted(set(subscription_ids or ()) - {h.subscription_id for h in held})
        if missing:
            raise UnknownSubscription(
                f"{subscriber.msisdn} holds no subscription "
                + ", ".join(str(i) for i in missing)
                + "; nothing was cancelled"
            )
        ending = Ending(
            uow, subscriber, at, principal.cause, EndCause.API, deployment.timezone, reason=reason
        )
        ended, already = end_subscriptions(ending, held)
        notice = None
        if ended:
            # The customer asked for nothing by SMS, so the notice waits for the sending
            # window.
            due = notice_due(uow, deployment, subscriber, at)
            notice = tell_cancelled(uow, deployment, subscriber, ended, at, send_after=due)
        uow.commit()
    return Cancelled(ended, already, notice)
