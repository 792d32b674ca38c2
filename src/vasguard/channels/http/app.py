"""The REST API (JSON, OpenAPI at /docs): catalogue, subscribers, orders and the SMS gateway.

Requests queue their MTs and return; the SMS engine's sender sends them, whichever
channel queued them (a request that sent its own replies would race every other sender).
``/health``, ``/ready`` and ``/metrics`` are for the platform's operators and probes.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from vasguard.bootstrap import Runtime
from vasguard.channels.console.app import mount as mount_console
from vasguard.channels.console.my import mount as mount_my
from vasguard.channels.http import billing, care, idempotency, limits, problems, reports
from vasguard.channels.http.auth import requires
from vasguard.channels.http.catalogue import router as catalogue_router
from vasguard.channels.http.fields import DbId, Fen, Line, Msisdn, Prose, known_query_only
from vasguard.channels.http.openapi import declare_problems, problem_responses
from vasguard.channels.http.partner import router as partner_router
from vasguard.channels.http.subscribers import router as subscribers_router
from vasguard.channels.http.subscriptions import router as subscriptions_router
from vasguard.channels.metrics import REGISTRY
from vasguard.channels.sms.engine import SmsEngine
from vasguard.domain.access import Action, Principal, Role
from vasguard.domain.msisdn import normalise
from vasguard.domain.receipts import DeliveryReport, as_receipt
from vasguard.domain.refusals import TryLater
from vasguard.domain.shards import Addressed
from vasguard.domain.subscription import Channel
from vasguard.services.intake import IncomingMo, receive_mo, receive_routed
from vasguard.services.messaging import conversation
from vasguard.services.orders import place_order
from vasguard.services.outbox import record_receipts
from vasguard.services.plans import order_plan
from vasguard.services.resolutions import refund_charge, resolve_complaint
from vasguard.services.routed_receipts import record_on_shards


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderIn(Strict):
    msisdn: Annotated[Msisdn, Field(examples=["13800138000"])]
    service: Annotated[Line, Field(min_length=1, max_length=21, description="service code")]
    channel: Channel = Channel.PARTNER
    order_ref: Annotated[Line, Field(max_length=64)] | None = Field(
        None, description="the partner's order id"
    )


class OrderOut(BaseModel):
    subscription_id: int
    msisdn: str
    service: str
    state: str
    confirm_by: datetime


class PlanOrderIn(Strict):
    msisdn: Annotated[Msisdn, Field(examples=["13800138000"])]
    plan: Annotated[Line, Field(min_length=1, max_length=20, description="plan code")]
    channel: Channel = Channel.CARE


class PlanOrderOut(BaseModel):
    subscriber_plan_id: int
    msisdn: str
    plan: str
    changed: bool
    effective_from: datetime
    notice_message_id: int
    notice_send_after: datetime


class ResolutionIn(Strict):
    refund: bool = False
    note: Annotated[Prose, Field(max_length=200)] | None = Field(
        None, description="the resolution, as recorded"
    )


class RefundOut(BaseModel):
    refund_id: int
    charge_id: int
    amount_fen: int
    complaint_id: int | None
    created: bool


class ResolutionOut(BaseModel):
    ticket: str
    resolved_at: datetime
    resolution: str
    refunded_fen: int
    refunds: list[RefundOut]


class RefundIn(Strict):
    charge_id: DbId
    amount_fen: Fen | None = Field(None, description="default: the whole charge")


class MoIn(Strict):
    """An MO from a gateway. Its text is kept as sent, a NUL as U+FFFD (as over SMPP);
    its numbers and id are ``Line``s, refused with a 422 if they hold a control character."""

    sender: Annotated[Line, Field(alias="from", max_length=32, examples=["13800138000"])]
    to: Annotated[Line, Field(max_length=21)] | None = None
    text: str = Field(max_length=2000)
    id: Annotated[Line, Field(max_length=64)] | None = Field(
        None, description="the SMSC's message id"
    )


class OneMoIn(MoIn):
    """One MO: its sender is a mobile number (a batch answers a bad one MO by MO)."""

    sender: Annotated[Msisdn, Field(alias="from", examples=["13800138000"])]


class MessageOut(BaseModel):
    id: int
    direction: str
    peer: str
    kind: str
    text: str
    parts: int
    status: str
    at: datetime


class MoOut(BaseModel):
    mo_id: int | None
    duplicate: bool
    replies: list[str]


class MoBatchIn(Strict):
    messages: list[MoIn] = Field(min_length=1, max_length=500)


class MoBatchItem(BaseModel):
    mo_id: int | None = None
    duplicate: bool = False
    replies: list[str] = []
    problem: dict[str, Any] | None = Field(
        None, description="RFC 9457 problem details when this MO was refused or not handled"
    )


class MoBatchOut(BaseModel):
    results: list[MoBatchItem]


class ReceiptIn(Strict):
    id: Annotated[
        Line, Field(min_length=1, max_length=64, description="the SMSC's id of the MT part")
    ]
    stat: Literal[
        "DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "ACCEPTD", "ENROUTE", "UNKNOWN"
    ]


class ReceiptsIn(Strict):
    receipts: list[ReceiptIn] = Field(min_length=1, max_length=500)


class ReceiptsOut(BaseModel):
    final: int = Field(description="receipts with a final stat (the others change nothing)")
    matched: int = Field(
        description="final receipts that settled a part now; the rest are "
        "kept until the part's SMSC id is stored, or were repeats (sharded: the receipts "
        "found on their part's shard, repeats included)"
    )


def create_app(rt: Runtime, engine: SmsEngine | None = None) -> FastAPI:
    """The API over ``rt``; ``engine`` is the SMS engine of this process, if it runs one
    (``/ready`` needs it: without one, nothing sends what the requests queue)."""
    app = FastAPI(
        title="vasguard",
        version="0.1.0",
        description="Consent, charge reminders and 0000 for value-added services.",
        dependencies=[Depends(known_query_only)],
    )
    app.state.runtime = rt
    problems.install(app)
    declare_problems(app)
    idempotency.install(app)
    limits.install(
        app,
        rt.clock(),
        max_body_bytes=rt.settings.http_max_body_bytes,
        rate=rt.settings.http_rate_per_second,
        partner_rate=rt.settings.http_partner_rate_per_second,
    )
    api = APIRouter(prefix="/api/v1")

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers. Touches nothing, so a slow database never gets
        a live process restarted."""
        return {"status": "ok"}

    @app.get("/ready", response_model=None, responses=problem_responses(503))
    def ready() -> dict[str, str] | JSONResponse:
        """Readiness: the database answers and the SMS engine can take MOs and send MTs."""
        reason = _not_ready(rt, engine)
        if reason is not None:
            return problems.problem(503, "not-ready", "Not ready", reason, retry_after_seconds=5)
        return {"status": "ready"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus text format: what the engine, the sender and the scheduler counted."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @api.post(
        "/orders", response_model=OrderOut, status_code=201, dependencies=[idempotency.IDEMPOTENT]
    )
    def post_order(
        body: OrderIn, principal: Annotated[Principal, Depends(requires(Action.ORDER))]
    ) -> OrderOut:
        placed = place_order(
            rt.uow_for(body.msisdn),
            rt.clock(),
            rt.deployment,
            msisdn=body.msisdn,
            service_code=body.service,
            channel=_order_channel(principal, body.channel),
            order_ref=body.order_ref,
            cause=principal.cause,
            principal=principal,
        )
        return OrderOut(
            subscription_id=placed.subscription_id,
            msisdn=placed.msisdn,
            service=placed.service_code,
            state="pending_confirmation",
            confirm_by=placed.confirm_by,
        )

    @api.post(
        "/plans/orders",
        response_model=PlanOrderOut,
        status_code=201,
        dependencies=[idempotency.IDEMPOTENT],
    )
    def post_plan_order(
        body: PlanOrderIn, principal: Annotated[Principal, Depends(requires(Action.ORDER_PLAN))]
    ) -> PlanOrderOut:
        ordered = order_plan(
            rt.uow_for(body.msisdn),
            rt.clock(),
            rt.deployment,
            msisdn=body.msisdn,
            plan_code=body.plan,
            channel=_order_channel(principal, body.channel),
            cause=principal.cause,
            principal=principal,
        )
        return PlanOrderOut(
            subscriber_plan_id=ordered.subscriber_plan_id,
            msisdn=ordered.msisdn,
            plan=ordered.plan_code,
            changed=ordered.changed,
            effective_from=ordered.effective_from,
            notice_message_id=ordered.notice_message_id,
            notice_send_after=ordered.notice_send_after,
        )

    @api.post(
        "/complaints/{ticket}/resolution",
        response_model=ResolutionOut,
        dependencies=[idempotency.IDEMPOTENT],
    )
    def post_resolution(
        ticket: Annotated[Line, Path(max_length=20)],
        body: ResolutionIn,
        principal: Annotated[Principal, Depends(requires(Action.RESOLVE_COMPLAINT))],
    ) -> ResolutionOut:
        resolution = resolve_complaint(
            rt.uow_holding(Addressed.COMPLAINT, ticket),
            rt.clock(),
            rt.deployment,
            ticket=ticket,
            refund=body.refund,
            note=body.note,
            cause=principal.cause,
            principal=principal,
        )
        return ResolutionOut(
            ticket=resolution.ticket,
            resolved_at=resolution.resolved_at,
            resolution=resolution.resolution,
            refunded_fen=resolution.refunded_fen,
            refunds=[RefundOut.model_validate(r, from_attributes=True) for r in resolution.refunds],
        )

    @api.post(
        "/refunds", response_model=RefundOut, status_code=201, dependencies=[idempotency.IDEMPOTENT]
    )
    def post_refund(
        body: RefundIn, principal: Annotated[Principal, Depends(requires(Action.REFUND))]
    ) -> RefundOut:
        made = refund_charge(
            rt.uow_holding(Addressed.CHARGE, body.charge_id),
            rt.clock(),
            charge_id=body.charge_id,
            amount_fen=body.amount_fen,
            cause=principal.cause,
            principal=principal,
        )
        return RefundOut.model_validate(made, from_attributes=True)

    @api.get("/subscribers/{msisdn}/messages", response_model=list[MessageOut])
    def get_messages(
        msisdn: Annotated[Msisdn, Path(examples=["13800138000"])],
        principal: Annotated[Principal, Depends(requires(Action.READ_SUBSCRIBER))],
        last: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> list[MessageOut]:
        return [
            MessageOut.model_validate(asdict(m))
            for m in conversation(rt.uow_for(msisdn), msisdn=msisdn, last=last, principal=principal)
        ]

    @api.post("/sms/mo", response_model=MoOut)
    def post_mo(body: OneMoIn, _: Annotated[Principal, Depends(requires(Action.POST_MO))]) -> MoOut:
        clock = rt.clock()
        sender = normalise(body.sender)
        result = receive_mo(
            rt.uow_for(sender),
            clock,
            rt.deployment,
            msisdn=sender,
            to=body.to or rt.deployment.service_number,
            text=body.text,
            smsc_message_id=body.id,
        )
        return MoOut(mo_id=result.mo_id, duplicate=result.duplicate, replies=result.replies)

    @api.post("/sms/mo-batch", response_model=MoBatchOut)
    def post_mo_batch(
        body: MoBatchIn, _: Annotated[Principal, Depends(requires(Action.POST_MO))]
    ) -> MoBatchOut:
        """MOs from a gateway, in order: several subscribers' MOs share one transaction.

        Each result is what ``POST /sms/mo`` would have answered for that MO; an MO with a
        problem of status 500 is stored, unhandled, and is handled when sent again.
        """
        clock = rt.clock()
        incoming = [
            IncomingMo(m.sender, m.to or rt.deployment.service_number, m.text, m.id)
            for m in body.messages
        ]
        results = receive_routed(rt, clock, rt.deployment, incoming)
        return MoBatchOut(
            results=[
                MoBatchItem(problem=problems.mo_problem(r))
                if isinstance(r, Exception)
                else MoBatchItem(mo_id=r.mo_id, duplicate=r.duplicate, replies=r.replies)
                for r in results
            ]
        )

    @api.post("/sms/receipts", response_model=ReceiptsOut)
    def post_receipts(
        body: ReceiptsIn, _: Annotated[Principal, Depends(requires(Action.POST_RECEIPT))]
    ) -> ReceiptsOut:
        """Delivery receipts from an HTTP gateway, as the SMPP engine applies its own:
        sharded, each on the shard holding its part (``services/routed_receipts``); when a
        shard does not answer, 503 and the batch is sent again (a repeat changes nothing)."""
        at = rt.clock().now()
        final = [
            receipt
            for r in body.receipts
            if (receipt := as_receipt(DeliveryReport(r.id, r.stat), at)) is not None
        ]
        if not rt.shard_map.configured:
            return ReceiptsOut(final=len(final), matched=record_receipts(rt.uow(), final))
        routed = record_on_shards(rt.shard_uows(), final, {})
        if routed.failed:
            raise TryLater(f"{len(routed.failed)} receipts could not be recorded on their shard")
        return ReceiptsOut(final=len(final), matched=len(routed.shards))

    app.include_router(api)
    app.include_router(catalogue_router)
    app.include_router(subscribers_router)
    app.include_router(subscriptions_router)
    app.include_router(billing.router)
    app.include_router(care.router)
    app.include_router(reports.router)
    app.include_router(partner_router)
    mount_console(app, rt)  # the web console's pages, outside the API's schema
    mount_my(app, rt)  # the customer's own page
    return app


def _order_channel(principal: Principal, asked: Channel) -> Channel:
    """The channel an order came through is the key's, not what the body claims: a
    partner's orders are partner orders and care's are care's; operator staff say which."""
    if principal.role is Role.PARTNER:
        return Channel.PARTNER
    if principal.role is Role.CARE:
        return Channel.CARE
    return asked


def _not_ready(rt: Runtime, engine: SmsEngine | None) -> str | None:
    """Why this process cannot do its work now, or ``None`` when it can."""
    try:
        rt.ping()
    except Exception as failed:  # any failure to answer is the same "not ready"
        return f"the database does not answer: {type(failed).__name__}"
    if engine is None:
        return "no SMS engine runs in this process: start it with `vasguard serve`"
    if not engine.ready():
        return "the SMS engine is not ready (SMPP binds down, or starting or stopping)"
    return None
