"""Storing messages: MO before anything acts on it, MT segmented and queued, always free."""

from __future__ import annotations

from datetime import datetime

from vasguard.domain.access import Principal, sees_province
from vasguard.domain.catalogue import Subscriber, UnknownSubscriber
from vasguard.domain.messages import MessageKind, MessageView, NewMt
from vasguard.domain.msisdn import normalise
from vasguard.domain.sending import send_after
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork


def queue_mt(
    uow: UnitOfWork,
    deployment: Deployment,
    subscriber: Subscriber,
    *,
    kind: MessageKind,
    text: str,
    at: datetime,
    subscription_id: int | None = None,
    send_after: datetime | None = None,
) -> int:
    """Queue a free platform MT from the service number now and return its id."""
    return uow.messages.add(
        NewMt(
            subscriber,
            deployment.service_number,
            kind,
            text,
            at,
            send_after=send_after,
            subscription_id=subscription_id,
        )
    )


def notice_due(
    uow: UnitOfWork, deployment: Deployment, subscriber: Subscriber, at: datetime
) -> datetime:
    """When a notice queued at ``at`` may go: a message that answers no MO of the
    subscriber's waits for the sending window of their province's zone."""
    zone = uow.reminders.zones().get(subscriber.province, deployment.timezone)
    return send_after(at, zone, deployment.sending_window)


def conversation(
    uow: UnitOfWork, *, msisdn: str, last: int = 20, principal: Principal | None = None
) -> list[MessageView]:
    """A subscriber's latest messages with the service number, oldest first."""
    number = normalise(msisdn)
    with uow:
        subscriber = uow.subscribers.by_msisdn(number)
        if subscriber is None or not sees_province(principal, subscriber.province):
            raise UnknownSubscriber(number)
        newest_first = uow.messages.latest_for(subscriber.id, last)
    return newest_first[::-1]
