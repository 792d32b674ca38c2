"""Storing messages: MO before anything acts on it, MT segmented and queued, always free."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vasguard.domain.catalogue import Subscriber, UnknownSubscriber
from vasguard.domain.messages import MessageView
from vasguard.domain.msisdn import normalise
from vasguard.domain.segmentation import split
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork


def queue_mt(
    uow: UnitOfWork,
    deployment: Deployment,
    subscriber: Subscriber,
    *,
    kind: str,
    text: str,
    at: datetime,
    subscription_id: int | None = None,
    send_after: datetime | None = None,
) -> int:
    """Queue a free platform MT now and return its id, for rows that must point at it."""
    return uow.messages.add(
        **mt_row(
            deployment,
            subscriber,
            kind=kind,
            text=text,
            at=at,
            subscription_id=subscription_id,
            send_after=send_after,
        )
    )


def mt_row(
    deployment: Deployment,
    subscriber: Subscriber,
    *,
    kind: str,
    text: str,
    at: datetime,
    in_reply_to: int | None = None,
    subscription_id: int | None = None,
    send_after: datetime | None = None,
    from_number: str | None = None,
    keep_lines: bool = False,
) -> dict[str, Any]:
    """A free platform MT, queued: the full text and its part count are kept on the row."""
    segmented = split(text, avoid_breaking_lines=keep_lines)
    return {
        "subscriber_id": subscriber.id,
        "province": subscriber.province,
        "msisdn": subscriber.msisdn,
        "direction": "mt",
        "service_number": from_number or deployment.service_number,
        "kind": kind,
        "text": text,
        "encoding": segmented.encoding,
        "parts": segmented.count,
        "status": "queued",
        "in_reply_to": in_reply_to,
        "subscription_id": subscription_id,
        "created_at": at,
        "send_after": send_after or at,
    }


def conversation(uow: UnitOfWork, *, msisdn: str, last: int = 20) -> list[MessageView]:
    """A subscriber's latest messages with the service number, oldest first."""
    number = normalise(msisdn)
    with uow:
        subscriber = uow.subscribers.by_msisdn(number)
        if subscriber is None:
            raise UnknownSubscriber(number)
        newest_first = uow.messages.latest_for(subscriber.id, last)
    return newest_first[::-1]
