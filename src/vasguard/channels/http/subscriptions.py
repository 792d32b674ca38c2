"""Subscriptions under ``/api/v1`` (TMF637 ``product``; the order as TMF622 ``productOrder``):
lists and reads within the key's scope, care's confirmation with the customer's code, and
cancellations by care or the operator.

Each subscription carries its TM Forum states beside its own, so an integrator reads
either; docs/api.md has the mapping.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vasguard.bootstrap import Runtime
from vasguard.channels.http import idempotency
from vasguard.channels.http.auth import requires, runtime_of
from vasguard.channels.http.fields import DbId, Line, Msisdn
from vasguard.channels.http.pages import Cursor, Limit, Page, decode_cursor, page_by_id
from vasguard.domain.access import Action, Principal
from vasguard.domain.shards import Addressed
from vasguard.domain.subscription import State, SubscriptionRecord
from vasguard.services import subscriptions

router = APIRouter(prefix="/api/v1", tags=["subscriptions"])

Rt = Annotated[Runtime, Depends(runtime_of)]
SubscriptionId = Annotated[DbId, Path(description="the subscription's id")]

TmfOrderState = Literal["pending", "completed", "cancelled", "failed"]
TmfProductStatus = Literal["created", "active", "terminated"]


def tmf_order_state(record: SubscriptionRecord) -> TmfOrderState:
    """The order as TMF622 sees it: acknowledged when placed, pending while it awaits the
    customer's 是 (二次确认), completed once confirmed, cancelled when declined or withdrawn
    unconfirmed, failed when the confirmation window closed unanswered."""
    if record.state is State.PENDING:
        return "pending"
    if record.confirmed_at is not None:
        return "completed"
    return "failed" if record.state is State.EXPIRED else "cancelled"


def tmf_product_status(record: SubscriptionRecord) -> TmfProductStatus:
    """The subscription as a TMF637 product: created while the order awaits its 是,
    active once confirmed, terminated once ended in any way (the order state tells how)."""
    if record.state is State.PENDING:
        return "created"
    return "active" if record.state is State.ACTIVE else "terminated"


class SubscriptionOut(BaseModel):
    id: int
    msisdn: str
    service: str = Field(description="service code")
    service_name: str
    provider: str = Field(description="provider code")
    state: State
    channel: str
    order_ref: str | None = Field(description="the partner's id of the order")
    ordered_at: datetime
    confirm_by: datetime | None
    confirmed_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None
    tmf_order_state: TmfOrderState = Field(description="TMF622 productOrder state")
    tmf_product_status: TmfProductStatus = Field(description="TMF637 product status")

    @classmethod
    def of(cls, record: SubscriptionRecord) -> SubscriptionOut:
        return cls(
            id=record.id,
            msisdn=record.msisdn,
            service=record.service_code,
            service_name=record.service_name,
            provider=record.provider_code,
            state=record.state,
            channel=record.channel,
            order_ref=record.order_ref,
            ordered_at=record.ordered_at,
            confirm_by=record.confirm_by,
            confirmed_at=record.confirmed_at,
            ended_at=record.ended_at,
            end_cause=record.end_cause,
            tmf_order_state=tmf_order_state(record),
            tmf_product_status=tmf_product_status(record),
        )


class ConfirmationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        pattern=r"^\d{4}$", description="the 4 digits of the request SMS, read out by the customer"
    )


class ConfirmationOut(BaseModel):
    subscription: SubscriptionOut
    consent_message_id: int = Field(
        description="the stored 是{code} (an MO of kind care_consent): the confirmation's evidence"
    )
    reply: str = Field(description="the SMS the customer is sent, as after their own 是")


class CancellationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # what one_of checks, for callers and the fuzzer to see
            "oneOf": [
                {
                    "required": ["subscription_ids"],
                    "properties": {"subscription_ids": {"type": "array"}, "all": {"const": False}},
                },
                {
                    "required": ["all"],
                    "properties": {"all": {"const": True}, "subscription_ids": {"type": "null"}},
                },
            ]
        },
    )

    subscription_ids: list[DbId] | None = Field(None, min_length=1, max_length=100)
    all: bool = Field(False, description="every open subscription of the number")

    @model_validator(mode="after")
    def one_of(self) -> Self:
        if (self.subscription_ids is None) == (not self.all):
            raise ValueError("give either subscription_ids or all: true, not both")
        return self


class CancelledOut(BaseModel):
    subscription_id: int
    service: str
    charged: bool = Field(description="whether it had ever been charged")
    voided_charge_ids: list[int] = Field(
        description="charges of periods it was never in service for, refunded in full"
    )


class AlreadyEndedOut(BaseModel):
    subscription_id: int
    service: str
    state: State


class CancellationsOut(BaseModel):
    cancelled: list[CancelledOut]
    already_ended: list[AlreadyEndedOut]
    notice_message_id: int | None = Field(
        description="the SMS telling the customer, sent inside the sending window"
    )


@router.get("/subscriptions", response_model=Page[SubscriptionOut])
def get_subscriptions(
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIPTIONS))],
    service: Annotated[Line | None, Query(max_length=21, description="service code")] = None,
    state: State | None = None,
    msisdn: Annotated[Msisdn | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SubscriptionOut]:
    """Subscriptions in id order; a partner key's hold its own services' only, a
    provincial key's its province's."""
    found = rt.listed(
        partial(
            subscriptions.list_subscriptions,
            principal=principal,
            msisdn=msisdn,
            service_code=service,
            state=state,
            after=decode_cursor(cursor),
            limit=limit + 1,
        ),
        lambda s: s.id,
        rows=limit + 1,
        msisdn=msisdn,
        province=principal.province,
    )
    return page_by_id(found, limit, SubscriptionOut.of)


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(
    rt: Rt,
    subscription_id: SubscriptionId,
    principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIPTIONS))],
) -> SubscriptionOut:
    """One subscription; one out of the key's scope is unknown (404)."""
    held = rt.reader_holding(Addressed.SUBSCRIPTION, subscription_id)
    return SubscriptionOut.of(subscriptions.find_subscription(held, subscription_id, principal))


@router.post(
    "/subscriptions/{subscription_id}/confirmation",
    response_model=ConfirmationOut,
    dependencies=[idempotency.IDEMPOTENT],
)
def post_confirmation(
    rt: Rt,
    subscription_id: SubscriptionId,
    body: ConfirmationIn,
    principal: Annotated[Principal, Depends(requires(Action.CONFIRM_FOR_CUSTOMER))],
) -> ConfirmationOut:
    """Care confirms a pending order on the customer's behalf, with the code the customer
    reads out from the request SMS: the rules of their own 是, the key in the event."""
    shard = rt.shard_holding(Addressed.SUBSCRIPTION, subscription_id)
    confirmed = subscriptions.confirm_for_customer(
        rt.uow_on(shard),
        rt.clock(),
        rt.deployment,
        subscription_id=subscription_id,
        code=body.code,
        principal=principal,
    )
    record = subscriptions.find_subscription(rt.uow_on(shard), subscription_id, principal)
    return ConfirmationOut(
        subscription=SubscriptionOut.of(record),
        consent_message_id=confirmed.consent_message_id,
        reply=confirmed.reply,
    )


@router.post(
    "/subscribers/{msisdn}/cancellations",
    response_model=CancellationsOut,
    dependencies=[idempotency.IDEMPOTENT],
)
def post_cancellations(
    rt: Rt,
    msisdn: Annotated[Msisdn, Path()],
    body: CancellationIn,
    principal: Annotated[Principal, Depends(requires(Action.CANCEL))],
) -> CancellationsOut:
    """Cancel some or all of the number's subscriptions, as an SMS cancellation would:
    charges of periods not yet served are voided; the customer is told by SMS."""
    done = subscriptions.cancel_for_customer(
        rt.uow_for(msisdn),
        rt.clock(),
        rt.deployment,
        msisdn=msisdn,
        subscription_ids=None if body.all else body.subscription_ids,
        principal=principal,
    )
    return CancellationsOut(
        cancelled=[
            CancelledOut(
                subscription_id=e.subscription.subscription_id,
                service=e.subscription.service_code,
                charged=e.subscription.charged,
                voided_charge_ids=e.voided_charge_ids,
            )
            for e in done.ended
        ],
        already_ended=[
            AlreadyEndedOut(
                subscription_id=h.subscription_id, service=h.service_code, state=h.state
            )
            for h in done.already_ended
        ],
        notice_message_id=done.notice_message_id,
    )
