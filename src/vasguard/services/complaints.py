"""TS: a complaint against a service, which holds its charges until it is resolved."""

from __future__ import annotations

from datetime import datetime

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.events import Cause, Event
from vasguard.domain.subscription import NamedSubscription
from vasguard.services.deployment import Deployment
from vasguard.services.handled_mo import HandledMo
from vasguard.services.partner_feed import BY_SMS, complaint_opened
from vasguard.services.unit_of_work import UnitOfWork


def open_complaint(mo: HandledMo, held: NamedSubscription, text: str) -> str:
    """Register the complaint, reply with its ticket, and return the ticket."""
    _, ticket = register_complaint(
        mo.uow,
        mo.deployment,
        mo.subscriber,
        held,
        text or mo.text,
        mo_id=mo.id,
        cause=Cause.mo(mo.id),
        how=BY_SMS,
        at=mo.at,
    )
    mo.reply(mo.templates.complaint_registered(service=held.service_name, ticket=ticket))
    return ticket


def register_complaint(
    uow: UnitOfWork,
    deployment: Deployment,
    subscriber: Subscriber,
    held: NamedSubscription,
    text: str,
    *,
    mo_id: int | None,
    cause: Cause,
    how: str,
    at: datetime,
) -> tuple[int, str]:
    """Store an open complaint against ``held`` with its event and the partner's feed entry;
    the id and ticket. Whoever opens it — the customer's TS (``mo_id``) or care on their
    behalf — the open row is what holds the subscription's charges (``store/eligibility.py``);
    ``how`` (``sms``, ``care``) is told in the event and the feed.
    """
    complaint_id, ticket = uow.complaints.open(
        subscriber_id=subscriber.id,
        province=subscriber.province,
        subscription_id=held.subscription_id,
        provider_id=held.provider_id,
        text=text,
        mo_id=mo_id,
        at=at,
        zone=deployment.timezone,
    )
    uow.events.add(
        Event(
            subscriber.id,
            subscriber.province,
            "complaint",
            complaint_id,
            "opened",
            cause,
            at,
            {
                "ticket": ticket,
                "subscription": held.subscription_id,
                "service": held.service_code,
                "channel": how,
            },
        )
    )
    complaint_opened(uow, subscriber, held, ticket=ticket, cause=how, at=at)
    return complaint_id, ticket
