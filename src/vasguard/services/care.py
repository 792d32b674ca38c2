"""Complaints as care and partners read them, and care opening one for a customer.

Scope: a provincial key sees its province's complaints, a partner key those about its
own provider's services and never the customer's words (its feed carries the ticket, not
the text); out of scope reads as unknown. A complaint care opens is the same row, event
and partner feed entry as the customer's TS (``services/complaints.register_complaint``),
so it holds the subscription's charges the same way; its event names the key.
"""

from __future__ import annotations

from dataclasses import replace

from vasguard.domain.access import Principal, Role, sees_province
from vasguard.domain.clock import Clock
from vasguard.domain.complaints import (
    ComplaintRecord,
    ComplaintStatus,
    SubscriptionNeeded,
    UnknownTicket,
)
from vasguard.domain.subscription import UnknownSubscription
from vasguard.services.complaints import register_complaint
from vasguard.services.deployment import Deployment
from vasguard.services.orders import find_subscriber
from vasguard.services.unit_of_work import UnitOfWork

BY_CARE = "care"


def _partner(principal: Principal | None) -> int | None:
    """The provider a partner key is bound to; ``None`` for the operator's roles."""
    if principal is None or principal.role is not Role.PARTNER:
        return None
    assert principal.provider_id is not None, "a partner key has a provider (schema)"
    return principal.provider_id


def _as_seen(record: ComplaintRecord, principal: Principal | None) -> ComplaintRecord:
    return replace(record, text=None) if _partner(principal) is not None else record


def complaints_page(
    uow: UnitOfWork,
    principal: Principal | None,
    *,
    after: int,
    limit: int,
    status: ComplaintStatus | None = None,
    msisdn: str | None = None,
) -> list[ComplaintRecord]:
    with uow:
        subscriber_id = find_subscriber(uow, msisdn, principal).id if msisdn else None
        found = uow.complaints.records(
            after=after,
            limit=limit,
            status=status,
            subscriber_id=subscriber_id,
            province=principal.province if principal is not None else None,
            provider_id=_partner(principal),
        )
    return [_as_seen(r, principal) for r in found]


def complaint(uow: UnitOfWork, principal: Principal | None, ticket: str) -> ComplaintRecord:
    with uow:
        found = uow.complaints.record(ticket.strip())
    partner = _partner(principal)
    if (
        found is None
        or not sees_province(principal, found.province)
        or (partner is not None and found.provider_id != partner)
    ):
        raise UnknownTicket(f"there is no complaint with ticket {ticket!r}")
    return _as_seen(found, principal)


def open_for_customer(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    principal: Principal,
    *,
    msisdn: str,
    subscription_id: int | None,
    text: str,
) -> ComplaintRecord:
    """Open a complaint as the customer's TS would: about ``subscription_id`` (one of
    theirs, in any state: a cancelled one can still have been charged wrongly) or, without
    one, the subscription latest reminded. Refuses, changing nothing, when neither is found.
    """
    at = clock.now()
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        if subscription_id is not None:
            held = uow.complaints.against(subscriber.id, subscription_id)
            if held is None:
                raise UnknownSubscription(
                    f"{subscriber.msisdn} has no subscription with id {subscription_id}"
                )
        else:
            reminded = uow.subscriptions.reminded(subscriber.id)
            if not reminded:
                raise SubscriptionNeeded(
                    f"{subscriber.msisdn} has had no charge reminder to complain about: "
                    "give the subscription_id the complaint is about"
                )
            held = reminded[0]
        _, ticket = register_complaint(
            uow,
            deployment,
            subscriber,
            held,
            text,
            mo_id=None,
            cause=principal.cause,
            how=BY_CARE,
            at=at,
        )
        uow.commit()
        opened = uow.complaints.record(ticket)
    assert opened is not None, "committed in this unit of work"
    return opened
