"""A partner's own change feed and webhook: ``/api/v1/partner/events`` and ``/webhook``.

Partner keys only (``Action.PARTNER_FEED``), each seeing its own provider's events only.
What the events say, how a webhook is signed and retried, and why ``seq`` is the cursor:
docs/partner-feed.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from vasguard.bootstrap import Runtime
from vasguard.channels.http import problems
from vasguard.channels.http.auth import requires, runtime_of
from vasguard.channels.http.fields import BIGGEST_ID, Line
from vasguard.domain.access import Action, Principal
from vasguard.domain.partner_feed import (
    SECRET_MAX_LENGTH,
    SECRET_MIN_LENGTH,
    URL_MAX_LENGTH,
    PartnerEventKind,
    Webhook,
)
from vasguard.services.partner_feed import (
    MAX_PAGE,
    feed_page,
    get_webhook,
    register_webhook,
    remove_webhook,
)
from vasguard.store.locks import holding

router = APIRouter(prefix="/api/v1/partner", tags=["partner"])

Partner = Annotated[Principal, Depends(requires(Action.PARTNER_FEED))]
Rt = Annotated[Runtime, Depends(runtime_of)]


class PartnerEventOut(BaseModel):
    seq: int = Field(description="the event's place in the feed: the cursor, and its id")
    kind: PartnerEventKind
    at: datetime
    subscription_id: int
    service: str = Field(description="service code")
    order_ref: str | None = Field(description="your order id, as given with the order")
    msisdn: str
    cause: str = Field(
        description="an ending's end cause (listing_cancel, td_reminder, td_code, cancel_all, "
        "api, declined, unconfirmed, …); sms for a confirmation or complaint by SMS, api or "
        "care for one the care desk entered"
    )
    ticket: str | None = Field(description="the complaint's ticket (complaint_opened only)")


class FeedOut(BaseModel):
    events: list[PartnerEventOut]
    next_after: int = Field(description="`after` for the next page: the last seq shown")
    more: bool = Field(description="whether more events are there already")


_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
WEBHOOK_URL_PATTERN = rf"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:{_PORT})?([/?#][!-~]*)?$"
"""URLs ``check_webhook`` takes (http(s), a host, ASCII without spaces or credentials),
for the schema to show."""


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[Line, Field(min_length=1, max_length=URL_MAX_LENGTH)] = Field(
        examples=["https://partner.example/vasguard/events"],
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN},  # check_webhook refuses the rest
    )
    secret: Annotated[Line, Field(min_length=SECRET_MIN_LENGTH, max_length=SECRET_MAX_LENGTH)] = (
        Field(description="the HMAC-SHA256 key the platform signs with; never shown back")
    )
    after: int | None = Field(
        None,
        ge=0,
        le=BIGGEST_ID,
        description="deliver the events after this seq (a feed cursor); default: a new "
        "webhook gets the events from now on, a changed one keeps its cursor",
    )


class WebhookOut(BaseModel):
    url: str
    delivered_seq: int = Field(description="every event up to this seq was answered 2xx")
    attempts: int = Field(description="failed tries in a row of the next batch")
    next_attempt_at: datetime | None
    last_error: str | None
    updated_at: datetime = Field(description="when the URL or secret was last set")


def _out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        url=webhook.url,
        delivered_seq=webhook.delivered_seq,
        attempts=webhook.attempts,
        next_attempt_at=webhook.next_attempt_at,
        last_error=webhook.last_error,
        updated_at=webhook.updated_at,
    )


@router.get("/events", response_model=FeedOut)
def get_events(
    rt: Rt,
    principal: Partner,
    after: Annotated[int, Query(ge=0, le=BIGGEST_ID, description="the last seq you have")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> FeedOut:
    """Your services' confirmations, cancellations and complaints after ``after``, oldest
    first. Keep the last ``seq`` you processed and ask again with it."""
    page = feed_page(
        rt.partner_feed(),
        lambda name: holding(rt.engine, name),
        principal,
        after=after,
        limit=limit,
    )
    return FeedOut(
        events=[PartnerEventOut.model_validate(e.document()) for e in page.events],
        next_after=page.next_after,
        more=page.more,
    )


@router.put("/webhook", response_model=WebhookOut)
def put_webhook(body: WebhookIn, rt: Rt, principal: Partner) -> WebhookOut:
    """Register or change where your feed is pushed, signed with ``secret``."""
    webhook = register_webhook(
        rt.uow(),
        rt.clock(),
        principal,
        url=body.url,
        secret=body.secret,
        after=body.after,
        feed=rt.sharded_feed(),
    )
    return _out(webhook)


@router.get("/webhook", response_model=WebhookOut, responses={404: {"description": "none"}})
def read_webhook(rt: Rt, principal: Partner) -> WebhookOut | JSONResponse:
    """Your webhook and how far delivery has come (the secret is never shown)."""
    webhook = get_webhook(rt.uow(), principal)
    if webhook is None:
        return problems.problem(
            404, "no-webhook", "No webhook", "register one with PUT /api/v1/partner/webhook"
        )
    return _out(webhook)


@router.delete("/webhook", status_code=204)
def delete_webhook(rt: Rt, principal: Partner) -> Response:
    """Stop pushing your feed (it stays readable at /events); done whether or not one was
    registered."""
    remove_webhook(rt.uow(), rt.clock(), principal)
    return Response(status_code=204)
