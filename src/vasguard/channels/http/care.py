"""Complaints (TMF621 ``troubleTicket``; the mapping is in docs/api.md): listed and read
by care and by partners (their own services' only, without the customer's words), and
opened by care on a customer's behalf, holding charges as the customer's TS does.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from vasguard.bootstrap import Runtime
from vasguard.channels.http import idempotency
from vasguard.channels.http.auth import requires, runtime_of
from vasguard.channels.http.fields import DbId, Line, Msisdn, Prose
from vasguard.channels.http.pages import Cursor, Limit, Page, decode_cursor, page_of
from vasguard.domain.access import Action, Principal
from vasguard.domain.complaints import ComplaintStatus
from vasguard.domain.shards import Addressed
from vasguard.services.care import complaint, complaints_page, open_for_customer

router = APIRouter(prefix="/api/v1", tags=["complaints"])

Rt = Annotated[Runtime, Depends(runtime_of)]


class ComplaintOut(BaseModel):
    ticket: str
    msisdn: str
    province: str
    subscription_id: int | None
    service: str | None = Field(description="service code")
    provider: str | None = Field(description="provider code")
    text: str | None = Field(description="the customer's words (not shown to partners)")
    status: ComplaintStatus
    channel: str = Field(description="sms: the customer's TS; care: opened by care")
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    msisdn: Annotated[Msisdn, Field(examples=["13800138000"])]
    subscription_id: DbId | None = Field(
        None, description="what it is about; default: the subscription latest reminded"
    )
    text: Annotated[Prose, Field(min_length=1, max_length=500)]


@router.get("/complaints", response_model=Page[ComplaintOut])
def get_complaints(
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.READ_COMPLAINTS))],
    status: ComplaintStatus | None = None,
    msisdn: Annotated[Msisdn | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ComplaintOut]:
    """Complaints by when they were opened; a partner sees its own services' only."""
    found = rt.listed(
        partial(
            complaints_page,
            principal=principal,
            after=decode_cursor(cursor),
            limit=limit,
            status=status,
            msisdn=msisdn,
        ),
        lambda c: c.id,
        rows=limit + 1,
        msisdn=msisdn,
        province=principal.province,
    )
    page = page_of(found, limit, key=lambda c: c.id)
    return Page(
        items=[ComplaintOut.model_validate(c, from_attributes=True) for c in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/complaints/{ticket}", response_model=ComplaintOut)
def get_complaint(
    ticket: Annotated[Line, Path(max_length=20)],
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.READ_COMPLAINTS))],
) -> ComplaintOut:
    found = complaint(rt.reader_holding(Addressed.COMPLAINT, ticket), principal, ticket)
    return ComplaintOut.model_validate(found, from_attributes=True)


@router.post(
    "/complaints",
    response_model=ComplaintOut,
    status_code=201,
    dependencies=[idempotency.IDEMPOTENT],
)
def post_complaint(
    body: ComplaintIn,
    response: Response,
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.COMPLAIN))],
) -> ComplaintOut:
    """Care opens a complaint for the customer: it holds the subscription's charges until
    it is resolved (``POST /complaints/{ticket}/resolution``); its event names the key."""
    opened = open_for_customer(
        rt.uow_for(body.msisdn),
        rt.clock(),
        rt.deployment,
        principal,
        msisdn=body.msisdn,
        subscription_id=body.subscription_id,
        text=body.text,
    )
    response.headers["Location"] = f"{router.prefix}/complaints/{opened.ticket}"
    return ComplaintOut.model_validate(opened, from_attributes=True)
