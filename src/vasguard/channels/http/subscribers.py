"""Subscribers under ``/api/v1``: lists, one number's timeline, its 0000 listing and its
subscriptions, within the key's province.

The timeline's cursor is its own: entries of five kinds are ordered by ``(at, kind, id)``,
so the cursor carries all three (see ``domain/timeline.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from vasguard.bootstrap import Runtime
from vasguard.channels.http import fields
from vasguard.channels.http.auth import requires, runtime_of
from vasguard.channels.http.pages import Cursor, Limit, Page, decode_cursor, page_by_id
from vasguard.channels.http.subscriptions import SubscriptionOut
from vasguard.domain.access import Action, Principal
from vasguard.domain.catalogue import Subscriber
from vasguard.domain.timeline import (
    TIMELINE_CURSOR_PATTERN,
    Entry,
    EntryKind,
    decode_timeline_cursor,
    encode_timeline_cursor,
)
from vasguard.services import subscribers
from vasguard.services.listings import listing_now
from vasguard.services.orders import find_subscriber
from vasguard.services.subscriptions import subscriptions_of

router = APIRouter(prefix="/api/v1", tags=["subscribers"])

Msisdn = Annotated[fields.Msisdn, Path(description="the number, national or E.164")]


class SubscriberOut(BaseModel):
    msisdn: str
    province: str
    language: str
    status: str

    @classmethod
    def of(cls, subscriber: Subscriber) -> SubscriberOut:
        return cls(
            msisdn=subscriber.msisdn,
            province=subscriber.province,
            language=subscriber.language,
            status=subscriber.status,
        )


class SubscriberListed(SubscriberOut):
    id: int = Field(description="the cursor's key")


class TimelineEntryOut(BaseModel):
    kind: EntryKind
    id: int = Field(description="the id of the message, event, charge, refund or complaint")
    at: datetime
    detail: Mapping[str, Any] = Field(
        description="the entry's fields: a message's direction, text and delivery state; an "
        "event's entity, kind and cause; a charge's period and amount; a refund's charge and "
        "amount; a complaint's ticket and status"
    )


class ListingItemOut(BaseModel):
    number: int = Field(description="the item's number as a 0000 now would list it")
    subscription_id: int
    service: str
    service_name: str
    provider: str
    price_fen: int
    group_service: bool
    ordered_at: datetime


def _entry(entry: Entry) -> TimelineEntryOut:
    fields = {
        name: getattr(entry, name)
        for name in entry.__dataclass_fields__
        if name not in ("kind", "id", "at")
    }
    return TimelineEntryOut(kind=entry.kind, id=entry.id, at=entry.at, detail=fields)


@router.get("/subscribers", response_model=Page[SubscriberListed])
def get_subscribers(
    rt: Annotated[Runtime, Depends(runtime_of)],
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIBER))],
    province: Annotated[
        str | None, Query(pattern=r"^\d{2}$", description="province code (e.g. 11)")
    ] = None,
    status: Literal["active", "suspended", "closed"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SubscriberListed]:
    """Subscribers in id order; a provincial key's list holds its province's only."""
    found = rt.listed(
        partial(
            subscribers.list_subscribers,
            principal=principal,
            province=province,
            status=status,
            after=decode_cursor(cursor),
            limit=limit + 1,
        ),
        lambda s: s.id,
        rows=limit + 1,
        province=principal.province or province,
    )
    return page_by_id(
        found, limit, lambda s: SubscriberListed(id=s.id, **SubscriberOut.of(s).model_dump())
    )


@router.get("/subscribers/{msisdn}", response_model=SubscriberOut)
def get_subscriber(
    rt: Annotated[Runtime, Depends(runtime_of)],
    msisdn: Msisdn,
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIBER))],
) -> SubscriberOut:
    with rt.uow_for(msisdn) as uow:
        return SubscriberOut.of(find_subscriber(uow, msisdn, principal))


@router.get("/subscribers/{msisdn}/timeline", response_model=Page[TimelineEntryOut])
def get_timeline(
    rt: Annotated[Runtime, Depends(runtime_of)],
    msisdn: Msisdn,
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIBER))],
    cursor: Annotated[
        str | None,
        Query(
            json_schema_extra={"pattern": TIMELINE_CURSOR_PATTERN},  # the decoder refuses the rest
            description="`next_cursor` of the previous page; omit for the first",
        ),
    ] = None,
    limit: Limit = 50,
) -> Page[TimelineEntryOut]:
    """Everything that happened to the number, newest first: MOs and MTs (with their
    delivery state), state changes with their cause, charges, refunds and complaints."""
    entries = subscribers.timeline(
        rt.uow_for(msisdn),
        msisdn=msisdn,
        principal=principal,
        after=decode_timeline_cursor(cursor),
        limit=limit + 1,
    )
    shown = entries[:limit]
    more = len(entries) > limit
    return Page(
        items=[_entry(e) for e in shown],
        next_cursor=encode_timeline_cursor(shown[-1].key) if more else None,
    )


@router.get("/subscribers/{msisdn}/listing", response_model=list[ListingItemOut])
def get_listing(
    rt: Annotated[Runtime, Depends(runtime_of)],
    msisdn: Msisdn,
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIBER))],
) -> list[ListingItemOut]:
    """What a 0000 would list now, by the same rule; nothing is sent and no listing is
    stored, so the numbers of the customer's own last 0000 keep their meaning."""
    return [
        ListingItemOut(
            number=item.number,
            subscription_id=item.candidate.subscription_id,
            service=item.candidate.service_code,
            service_name=item.candidate.service_name,
            provider=item.candidate.provider_name,
            price_fen=item.candidate.price_fen,
            group_service=item.candidate.group_service,
            ordered_at=item.candidate.ordered_at,
        )
        for item in listing_now(rt.uow_for(msisdn), rt.clock(), msisdn=msisdn, principal=principal)
    ]


@router.get("/subscribers/{msisdn}/subscriptions", response_model=Page[SubscriptionOut])
def get_subscriptions_of(
    rt: Annotated[Runtime, Depends(runtime_of)],
    msisdn: Msisdn,
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIBER))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SubscriptionOut]:
    """Every subscription of the number, in any state, oldest first."""
    found = subscriptions_of(
        rt.uow_for(msisdn), msisdn, principal, after=decode_cursor(cursor), limit=limit + 1
    )
    return page_by_id(found, limit, SubscriptionOut.of)
