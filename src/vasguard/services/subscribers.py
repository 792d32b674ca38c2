"""Subscribers as care reads them: lists by province and status, and one number's timeline.

A provincial key sees only its province's subscribers: another province's number reads as
unknown, and a list asked for another province is empty.
"""

from __future__ import annotations

from vasguard.domain.access import Principal
from vasguard.domain.catalogue import Subscriber
from vasguard.domain.timeline import Entry, TimelineKey
from vasguard.services.orders import find_subscriber
from vasguard.services.unit_of_work import UnitOfWork


def list_subscribers(
    uow: UnitOfWork,
    principal: Principal | None,
    *,
    province: str | None,
    status: str | None,
    after: int,
    limit: int,
) -> list[Subscriber]:
    scope = principal.province if principal is not None else None
    if scope is not None and province not in (None, scope):
        return []
    with uow:
        return uow.browse.subscribers(
            province=scope or province, status=status, after=after, limit=limit
        )


def timeline(
    uow: UnitOfWork,
    *,
    msisdn: str,
    principal: Principal | None,
    after: TimelineKey | None,
    limit: int,
) -> list[Entry]:
    """The subscriber's messages, changes, charges, refunds and complaints after ``after``
    (the newest without it), newest first: ``limit`` of them at the most."""
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        return uow.timeline.page(subscriber.id, after, limit)
