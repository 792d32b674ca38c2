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
from vasguard.domain.scorecards import Flag
from vasguard.services import national

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


class ScorecardOut(BaseModel):
    """The partner's month from the daily figures (as of the figures job's last recount)."""

    orders: int
    confirmation_rate: float | None = Field(description="confirmations / orders")
    reminder_cancels: int = Field(description="cancelled after the reminder, before a charge")
    reminder_cancel_rate: float | None = Field(description="reminder_cancels / confirmations")
    listing_cancels: int = Field(description="cancelled through a 0000 listing")
    listing_cancel_rate: float | None = Field(description="listing_cancels / held")
    held: int = Field(description="subscriptions live at the month's last counted day")
    complaints: int
    complaints_per_1000: float | None = Field(description="complaints per 1,000 held")
    refunds: int
    refunded_fen: int
    flags: list[Flag] = Field(description="thresholds crossed (VASGUARD_SCORECARD_*)")


_CARD_FIGURES = [name for name in ScorecardOut.model_fields if name != "flags"]


class PartnerLineOut(ReportLineOut):
    scorecard: ScorecardOut | None = Field(
        description="a partner's scorecard; none for the operator's own services"
    )
    flagged: bool = Field(description="the scorecard crosses a threshold")


class PartnerReportOut(BaseModel):
    period: str
    lines: list[PartnerLineOut]


def _report(period: str, lines: list[ReportLine]) -> ReportOut:
    return ReportOut(
        period=period,
        lines=[ReportLineOut.model_validate(line, from_attributes=True) for line in lines],
    )


@router.get("/provinces", response_model=ReportOut)
def get_province_report(rt: Rt, _: Operator, period: PeriodQuery) -> ReportOut:
    """Per province (the subscriber's) with anything in the period."""
    return _report(period, national.province_report(rt.shard_readers(), rt.deployment, period))


@router.get("/partners", response_model=PartnerReportOut)
def get_partner_report(
    rt: Rt,
    _: Operator,
    period: PeriodQuery,
    flagged: Annotated[bool, Query(description="only partners flagged by their scorecard")] = False,
) -> PartnerReportOut:
    """Per provider of the services (plan fees, being the operator's, are left out), each
    partner with its scorecard and the thresholds it crosses."""
    limits = rt.deployment.scorecard_thresholds
    shards = rt.shard_readers()
    every, _count = national.scorecards(shards, rt.deployment, period)
    cards = {c.provider_code: c for c in every}
    lines: list[PartnerLineOut] = []
    for line in national.partner_report(shards, rt.deployment, period):
        card = cards.get(line.code)
        shown = None
        if card is not None:
            figures = {name: getattr(card, name) for name in _CARD_FIGURES}
            shown = ScorecardOut(**figures, flags=list(card.flags(limits)))
        if flagged and not (shown and shown.flags):
            continue
        lines.append(
            PartnerLineOut(
                **ReportLineOut.model_validate(line, from_attributes=True).model_dump(),
                scorecard=shown,
                flagged=bool(shown and shown.flags),
            )
        )
    return PartnerReportOut(period=period, lines=lines)
