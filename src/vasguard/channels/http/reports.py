"""A period's figures per province and per partner, for the operator (``domain/reports``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from vasguard.bootstrap import Runtime
from vasguard.channels.http.auth import requires, runtime_of
from vasguard.channels.http.fields import PERIOD_PATTERN, Line
from vasguard.domain.access import Action, Principal
from vasguard.domain.reports import ReportLine
from vasguard.services.reports import partner_report, province_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Rt = Annotated[Runtime, Depends(runtime_of)]
Operator = Annotated[Principal, Depends(requires(Action.REPORTS))]
PeriodQuery = Annotated[
    Line,
    Query(
        max_length=7,
        description="YYYY-MM",
        examples=["2026-11"],
        json_schema_extra={"pattern": PERIOD_PATTERN},
    ),
]


class ReportLineOut(BaseModel):
    code: str = Field(description="province code, or provider code")
    name: str
    orders: int = Field(description="orders placed in the period")
    confirmations: int = Field(description="orders the customer confirmed in the period")
    cancellations: dict[str, int] = Field(description="subscriptions ended in it, by cause")
    complaints: int = Field(description="complaints opened in the period")
    charges: int = Field(description="the period's charges")
    charged_fen: int
    refunds: int = Field(description="refunds of the period's charges, whenever given")
    refunded_fen: int


class ReportOut(BaseModel):
    period: str
    lines: list[ReportLineOut]


def _report(period: str, lines: list[ReportLine]) -> ReportOut:
    return ReportOut(
        period=period,
        lines=[ReportLineOut.model_validate(line, from_attributes=True) for line in lines],
    )


@router.get("/provinces", response_model=ReportOut)
def get_province_report(rt: Rt, _: Operator, period: PeriodQuery) -> ReportOut:
    """Per province (the subscriber's) with anything in the period."""
    return _report(period, province_report(rt.uow(), rt.deployment, period))


@router.get("/partners", response_model=ReportOut)
def get_partner_report(rt: Rt, _: Operator, period: PeriodQuery) -> ReportOut:
    """Per provider of the services (plan fees, being the operator's, are left out)."""
    return _report(period, partner_report(rt.uow(), rt.deployment, period))
