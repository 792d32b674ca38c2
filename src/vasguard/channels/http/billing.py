"""Charges with their evidence chain, refunds and bill runs (TMF678 ``customerBill`` and
``appliedCustomerBillingRate``; the mapping is in docs/api.md).

A bill run started here runs in a thread of its own, off the request: the request waits
only until the run's record is committed (or the run is refused: a period not begun, a
period another run holds), then answers 202 with the run, whose progress
``GET /bill-runs/{id}`` reads from its record. A process that stops mid-run leaves the
run ``running`` with its cursor; starting it again (here, the CLI or the scheduler)
resumes or supersedes it, charging only what is left (``services/billing.py``); the
console starts runs the same way (``services/bill_run_thread.py``).
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
from vasguard.channels.http.fields import PERIOD_PATTERN, DbId, Line, Msisdn
from vasguard.channels.http.pages import (
    Cursor,
    Limit,
    Page,
    decode_cursor,
    from_attributes,
    page_by_id,
)
from vasguard.domain.access import Action, Principal
from vasguard.domain.charging import Kind
from vasguard.domain.ledger import ChargeStatus
from vasguard.domain.shards import Addressed
from vasguard.services.bill_run_thread import start_bill_runs
from vasguard.services.ledger import (
    bill_run,
    bill_runs_page,
    charge_evidence,
    charges_page,
    refunds_page,
)

router = APIRouter(prefix="/api/v1", tags=["charges and bill runs"])

Rt = Annotated[Runtime, Depends(runtime_of)]
PeriodQuery = Annotated[
    Line | None,
    Query(max_length=7, description="YYYY-MM", json_schema_extra={"pattern": PERIOD_PATTERN}),
]
MsisdnQuery = Annotated[Msisdn | None, Query(description="the subscriber")]


class ChargeOut(BaseModel):
    """A charge (TMF678 ``appliedCustomerBillingRate``); ``status`` as TMF678 names a bill's."""

    id: int
    msisdn: str
    province: str
    period: str
    kind: str
    amount_fen: int
    created_at: datetime
    bill_run_id: int | None
    subscription_id: int | None
    subscriber_plan_id: int | None
    service: str | None = Field(description="service code (a subscription's charge)")
    plan: str | None = Field(description="plan code (a plan fee)")
    status: ChargeStatus


class MessageLinkOut(BaseModel):
    id: int
    direction: str
    kind: str
    text: str
    created_at: datetime
    status: str
    sent_at: datetime | None
    receipt_status: str | None
    receipt_at: datetime | None


class OrderLinkOut(BaseModel):
    subscription_id: int
    service: str
    service_name: str
    provider: str
    state: str
    channel: str
    order_ref: str | None
    ordered_at: datetime
    confirmed_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None


class PlanOrderLinkOut(BaseModel):
    subscriber_plan_id: int
    plan: str
    plan_name: str
    channel: str
    ordered_at: datetime
    effective_from: datetime
    effective_to: datetime | None


class BillRunLinkOut(BaseModel):
    id: int
    period: str
    run_at: datetime
    status: str


class RefundOut(BaseModel):
    id: int
    charge_id: int
    msisdn: str
    province: str
    period: str
    amount_fen: int
    created_at: datetime
    ticket: str | None = Field(description="the complaint it resolved, if any")
    cause: str


class HoldOut(BaseModel):
    ticket: str
    opened_at: datetime


class EvidenceOut(BaseModel):
    """Every stored link that allowed the charge, in the order they happened."""

    order: OrderLinkOut | None
    plan_order: PlanOrderLinkOut | None
    confirmation_request: MessageLinkOut | None = Field(description="二次确认 MT")
    confirmation: MessageLinkOut | None = Field(description="the customer's confirming MO")
    reminder: MessageLinkOut | None = Field(description="扣费提醒 MT, with its receipt")
    reminder_status_at_charge: str | None
    bill_run: BillRunLinkOut | None
    refund: RefundOut | None
    holds: list[HoldOut] = Field(description="open complaints holding it")


class ChargeDetailOut(ChargeOut):
    evidence: EvidenceOut


class ChargedOut(BaseModel):
    count: int
    fen: int


class ExemptOut(BaseModel):
    service: str
    reason: str
    charges: int
    fen: int


class BillRunOut(BaseModel):
    """A run as recorded; ``cursor`` is the last subscriber id it has committed."""

    id: int
    period: str
    status: str
    run_at: datetime
    started_at: datetime
    finished_at: datetime | None
    cursor: int
    charged_count: int
    charged_fen: int
    charged: dict[str, ChargedOut] = Field(description="by kind: first, renewal, plan")
    skipped: dict[str, int] = Field(description="subscriptions not charged, by reason")
    exempt: list[ExemptOut] = Field(description="reminder-exempt services charged")


class BillRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Annotated[
        Line,
        Field(max_length=7, examples=["2026-11"], json_schema_extra={"pattern": PERIOD_PATTERN}),
    ]


class BillRunStartedOut(BaseModel):
    id: int
    period: str
    status: str = "running"
    run_at: datetime
    resumed: bool = Field(description="an unfinished run of the same instant, resumed")
    cursor: int
    runs: list[int] = Field(
        description="the run's id on every shard (one when unsharded); ``id`` is the first's"
    )


@router.get("/charges", response_model=Page[ChargeOut])
def get_charges(
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.READ_BILLING))],
    msisdn: MsisdnQuery = None,
    period: PeriodQuery = None,
    kind: Kind | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ChargeOut]:
    """Charges by id, filtered; a provincial key sees its province's only."""
    found = rt.listed(
        partial(
            charges_page,
            deployment=rt.deployment,
            principal=principal,
            after=decode_cursor(cursor),
            limit=limit,
            msisdn=msisdn,
            period=period,
            kind=kind,
        ),
        lambda c: c.id,
        rows=limit + 1,
        msisdn=msisdn,
        province=principal.province,
    )
    return page_by_id(found, limit, from_attributes(ChargeOut))


@router.get("/charges/{charge_id}", response_model=ChargeDetailOut)
def get_charge(
    charge_id: Annotated[DbId, Path()],
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.READ_BILLING))],
) -> ChargeDetailOut:
    """The charge and its evidence chain: order, confirmation request, confirming MO,
    reminder and its receipt, the bill run, any refund, and what holds it."""
    found = charge_evidence(rt.reader_holding(Addressed.CHARGE, charge_id), principal, charge_id)
    return ChargeDetailOut(
        **ChargeOut.model_validate(found.charge, from_attributes=True).model_dump(),
        evidence=EvidenceOut.model_validate(found, from_attributes=True),
    )


@router.get("/refunds", response_model=Page[RefundOut])
def get_refunds(
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.READ_BILLING))],
    msisdn: MsisdnQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RefundOut]:
    found = rt.listed(
        partial(
            refunds_page,
            principal=principal,
            after=decode_cursor(cursor),
            limit=limit,
            msisdn=msisdn,
        ),
        lambda r: r.id,
        rows=limit + 1,
        msisdn=msisdn,
        province=principal.province,
    )
    return page_by_id(found, limit, from_attributes(RefundOut))


@router.post(
    "/bill-runs",
    response_model=BillRunStartedOut,
    status_code=202,
    dependencies=[idempotency.IDEMPOTENT],
)
def post_bill_run(
    body: BillRunIn,
    response: Response,
    rt: Rt,
    principal: Annotated[Principal, Depends(requires(Action.BILL_RUN))],
) -> BillRunStartedOut:
    """Start the bill run of a period as of now; 202 once its record exists, while it runs.

    Refused (nothing written) for a period not begun, or one another run holds (409).
    Sharded, a run starts on every shard (``runs``); a shard's refusal is the answer and
    the runs that started go on (starting again resumes them).
    """
    runs = start_bill_runs(
        rt.shard_uows(),
        rt.clock(),
        rt.deployment,
        body.period,
        cause=principal.cause,
        parallel=rt.settings.shard_parallelism,
    )
    run = runs[0]
    response.headers["Location"] = f"{router.prefix}/bill-runs/{run.id}"
    return BillRunStartedOut(
        id=run.id,
        period=str(run.period),
        run_at=run.run_at,
        resumed=run.resumed,
        cursor=run.cursor,
        runs=[r.id for r in runs],
    )


@router.get("/bill-runs", response_model=Page[BillRunOut])
def get_bill_runs(
    rt: Rt,
    _: Annotated[Principal, Depends(requires(Action.READ_BILLING))],
    period: PeriodQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[BillRunOut]:
    found = rt.listed(
        partial(
            bill_runs_page,
            deployment=rt.deployment,
            after=decode_cursor(cursor),
            limit=limit,
            period=period,
        ),
        lambda r: r.id,
        rows=limit + 1,
    )
    return page_by_id(found, limit, from_attributes(BillRunOut))


@router.get("/bill-runs/{bill_run_id}", response_model=BillRunOut)
def get_bill_run(
    bill_run_id: Annotated[DbId, Path()],
    rt: Rt,
    _: Annotated[Principal, Depends(requires(Action.READ_BILLING))],
) -> BillRunOut:
    found = bill_run(rt.reader_holding(Addressed.BILL_RUN, bill_run_id), bill_run_id)
    return BillRunOut.model_validate(found, from_attributes=True)
