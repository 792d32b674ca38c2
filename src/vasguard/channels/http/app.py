"""The REST API (JSON, OpenAPI at /docs): catalogue, subscribers, orders and the SMS gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field

from vasguard.channels.http import problems
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import normalise
from vasguard.domain.ordering import OrderRefused, Refusal
from vasguard.domain.subscription import Channel
from vasguard.runtime import Runtime
from vasguard.services.dialogue import receive_mo
from vasguard.services.orders import find_subscriber, place_order


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceOut(BaseModel):
    code: str
    name: str
    provider: str
    category: str
    billing_mode: str
    price_fen: int
    reminder_exempt_reason: str | None
    group_service: bool


class SubscriberOut(BaseModel):
    msisdn: str
    province: str
    language: str
    status: str


class OrderIn(Strict):
    msisdn: str = Field(examples=["13800138000"])
    service: str = Field(min_length=1, max_length=21, description="service code")
    channel: Channel = Channel.PARTNER
    order_ref: str | None = Field(None, max_length=64, description="the partner's order id")


class OrderOut(BaseModel):
    subscription_id: int
    msisdn: str
    service: str
    state: str
    confirm_by: datetime


class MoIn(Strict):
    sender: str = Field(alias="from", examples=["13800138000"])
    to: str | None = Field(None, max_length=21)
    text: str = Field(max_length=2000)
    id: str | None = Field(None, max_length=64, description="the SMSC's message id")


class MoOut(BaseModel):
    mo_id: int | None
    duplicate: bool
    replies: list[str]


def create_app(rt: Runtime) -> FastAPI:
    app = FastAPI(
        title="vasguard",
        version="0.1.0",
        description="Consent, charge reminders and 0000 for value-added services.",
    )
    problems.install(app)
    api = APIRouter(prefix="/api/v1")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/services/{code}", response_model=ServiceOut)
    def get_service(code: Annotated[str, Path(max_length=21)]) -> ServiceOut:
        with rt.uow() as uow:
            service = uow.catalogue.service_by_code(code)
        if service is None:
            raise OrderRefused(Refusal.UNKNOWN_SERVICE, f"there is no service with code {code!r}")
        return ServiceOut(
            code=service.code,
            name=service.name,
            provider=service.provider_name,
            category=service.category,
            billing_mode=service.billing_mode.value,
            price_fen=service.price_fen,
            reminder_exempt_reason=service.reminder_exempt_reason,
            group_service=service.group_service,
        )

    @api.get("/subscribers/{msisdn}", response_model=SubscriberOut)
    def get_subscriber(msisdn: Annotated[str, Path(max_length=32)]) -> SubscriberOut:
        with rt.uow() as uow:
            subscriber = find_subscriber(uow, msisdn)
        return SubscriberOut(
            msisdn=subscriber.msisdn,
            province=subscriber.province,
            language=subscriber.language,
            status=subscriber.status,
        )

    @api.post("/orders", response_model=OrderOut, status_code=201)
    def post_order(body: OrderIn) -> OrderOut:
        placed = place_order(
            rt.uow(),
            rt.clock(),
            rt.deployment,
            msisdn=body.msisdn,
            service_code=body.service,
            channel=body.channel,
            order_ref=body.order_ref,
            cause=Cause(CauseKind.API, f"order:{body.channel.value}"),
        )
        return OrderOut(
            subscription_id=placed.subscription_id,
            msisdn=placed.msisdn,
            service=placed.service_code,
            state="pending_confirmation",
            confirm_by=placed.confirm_by,
        )

    @api.post("/sms/mo", response_model=MoOut)
    def post_mo(body: MoIn) -> MoOut:
        result = receive_mo(
            rt.uow(),
            rt.clock(),
            rt.deployment,
            msisdn=normalise(body.sender),
            to=body.to or rt.deployment.service_number,
            text=body.text,
            smsc_message_id=body.id,
        )
        return MoOut(mo_id=result.mo_id, duplicate=result.duplicate, replies=result.replies)

    app.include_router(api)
    return app
