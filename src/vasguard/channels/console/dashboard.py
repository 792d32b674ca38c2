"""The dashboard and the partner scorecards, drawn from the daily figures.

Both pages read only the stored figures (``services/figures.py``): their cost grows with
the days shown and the partners with figures on each (at 1M subscribers all 5,400 are,
and a 30-day partner table sums ~285,000 rows: docs/console-benchmark.md). The
dashboard's charts are drawn in the browser by Chart.js, served from the package
(``static/vendor/chartjs``); their data is a JSON block in the page, and every chart has
its table beside it, so the page reads without script too. A province-bound key sees its
province only; scorecards are the operator's (the reports grant), as over the API.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from vasguard.channels.console.strings import refusal_text, text
from vasguard.channels.console.web import (
    Session,
    language,
    message_page,
    page,
    runtime,
)
from vasguard.domain.access import Action, may
from vasguard.domain.figures import Dashboard, Days, Figure, FigureLine, check_filters
from vasguard.domain.money import yuan_decimal
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput, Refused
from vasguard.domain.scorecards import Scorecard, Thresholds
from vasguard.services import national
from vasguard.services.figures import MAX_DAYS

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Query(max_length=20)]

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
# The figures of each chart, in the order of their series.
ACTIVITY = (
    Figure.ORDERS,
    Figure.CONFIRMATIONS,
    Figure.CANCELLATIONS,
    Figure.REMINDER_CANCELS,
    Figure.LISTING_CANCELS,
    Figure.COMPLAINTS,
)
REMINDERS = (Figure.REMINDERS_SENT, Figure.REMINDERS_DELIVERED)
TILES = (
    Figure.ORDERS,
    Figure.CONFIRMATIONS,
    Figure.REMINDERS_SENT,
    Figure.REMINDERS_DELIVERED,
    Figure.REMINDER_CANCELS,
    Figure.LISTINGS,
    Figure.LISTING_CANCELS,
    Figure.CANCELLATIONS,
    Figure.COMPLAINTS,
)
# Flagged partners named on the dashboard (the busiest; the scorecards page has more).
FLAGGED_SHOWN = 10
# Scorecards on the page: flagged partners first, then the busiest, this many at most
# (a page of thousands of rows helps nobody); the API has them all.
SHOWN_CARDS = 200


def _today(request: Request) -> date:
    rt = runtime(request)
    return rt.clock().now().astimezone(ZoneInfo(rt.deployment.timezone)).date()


def _days(request: Request, first: str, last: str, span: int | None) -> Days:
    """The period picked: ``first``–``last`` (ISO dates), or the ``span`` days to today."""
    today = _today(request)
    if first or last:
        try:
            picked = Days(date.fromisoformat(first or last), date.fromisoformat(last or first))
        except ValueError:
            raise InvalidInput("pick the days as YYYY-MM-DD, the first before the last") from None
        if picked.count > MAX_DAYS:
            raise InvalidInput(f"pick at most {MAX_DAYS} days")
        return picked
    count = span if span and 1 <= span <= MAX_DAYS else DEFAULT_DAYS
    return Days(today - timedelta(days=count - 1), today)


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _row(line: FigureLine) -> dict[str, Any]:
    tally = line.tally
    return {
        "key": line.key,
        "name": line.name,
        **{figure.value: tally[figure] for figure in TILES},
        "confirmation_rate": _rate(tally.confirmation_rate),
        "charged": yuan_decimal(tally.amount(Figure.CHARGES)),
        "refunded": yuan_decimal(tally.amount(Figure.REFUNDS)),
    }


def _chart_data(request: Request, by_day: list[FigureLine], by_province: list[FigureLine]) -> str:
    """What ``static/dashboard.js`` draws: labels and series, labelled in the page's language."""
    lang = language(request)

    def series(figures: tuple[Figure, ...], lines: list[FigureLine]) -> list[dict[str, Any]]:
        return [
            {"label": text(lang, f"fig_{f.value}"), "data": [line.tally[f] for line in lines]}
            for f in figures
        ]

    days = [line.key for line in by_day]
    money = [
        {
            "label": text(lang, f"fig_{figure.value}_yuan"),
            "data": [line.tally.amount(figure) / 100 for line in by_day],
        }
        for figure in (Figure.CHARGES, Figure.REFUNDS)
    ]
    return json.dumps(
        {
            "activity": {"labels": days, "series": series(ACTIVITY, by_day)},
            "reminders": {"labels": days, "series": series(REMINDERS, by_day)},
            "money": {"labels": days, "series": money},
            "provinces": {
                "labels": [line.name for line in by_province],
                "series": series((Figure.ORDERS, Figure.CONFIRMATIONS), by_province),
            },
        },
        ensure_ascii=False,
    ).replace("</", "<\\/")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: Session,
    first: Text = "",
    last: Text = "",
    days: Annotated[int | None, Query(ge=1, le=MAX_DAYS)] = None,
    province: Text = "",
    provider: Text = "",
) -> HTMLResponse:
    """Figures of the days picked (default: the last 30), of a province or a partner."""
    rt = runtime(request)
    bound = session.principal.province
    shown_province = bound or province or None
    try:
        picked = _days(request, first, last, days)
        check_filters(shown_province, provider or None)
        board = national.dashboard(
            rt.shard_readers(shown_province),
            picked,
            province=shown_province,
            provider_code=provider or None,
        )
    except Refused as refused:
        return message_page(request, session, refusal_text(language(request), refused), 400)
    flagged: list[Scorecard] = []
    flagged_count = 0
    limits = rt.deployment.scorecard_thresholds
    if may(session.principal.role, Action.REPORTS):
        month = Period.of(rt.clock().now(), rt.deployment.timezone)
        flagged, flagged_count = national.scorecards(
            rt.shard_readers(), rt.deployment, str(month), flagged_by=limits, busiest=FLAGGED_SHOWN
        )
    total = board.total
    return page(
        request,
        "dashboard.html",
        session=session,
        board=board,
        picked=picked,
        presets=PRESETS,
        province=shown_province or "",
        province_bound=bound is not None,
        provider=provider,
        tiles=[(f.value, total[f]) for f in TILES],
        confirmation_rate=_rate(total.confirmation_rate),
        delivery_rate=_rate(total.delivery_rate),
        charged=yuan_decimal(total.amount(Figure.CHARGES)),
        refunded=yuan_decimal(total.amount(Figure.REFUNDS)),
        days_rows=[_row(line) for line in board.by_day],
        province_rows=[_row(line) for line in board.by_province],
        partner_rows=[_row(line) for line in board.by_provider],
        partners_more=max(0, board.providers - len(board.by_provider)),
        flagged=[_card(card, limits) for card in flagged],
        flagged_more=max(0, flagged_count - len(flagged)),
        refreshed_at=_at(request, board),
        chart_data=_chart_data(request, board.by_day, board.by_province),
    )


def _at(request: Request, board: Dashboard) -> str:
    if board.refreshed_at is None:
        return ""
    zone = ZoneInfo(runtime(request).deployment.timezone)
    return str(board.refreshed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"))


def _card(card: Scorecard, limits: Thresholds) -> dict[str, Any]:
    return {
        "code": card.provider_code,
        "name": card.provider_name,
        "orders": card.orders,
        "confirmation_rate": _rate(card.confirmation_rate),
        "reminder_cancels": card.reminder_cancels,
        "reminder_cancel_rate": _rate(card.reminder_cancel_rate),
        "listing_cancels": card.listing_cancels,
        "listing_cancel_rate": _rate(card.listing_cancel_rate),
        "held": card.held,
        "complaints": card.complaints,
        "complaints_per_1000": (
            "—" if card.complaints_per_1000 is None else f"{card.complaints_per_1000:.1f}"
        ),
        "refunds": card.refunds,
        "refunded": yuan_decimal(card.refunded_fen),
        "flags": [flag.value for flag in card.flags(limits)],
    }


@router.get("/partners", response_class=HTMLResponse)
def scorecards_page(
    request: Request, session: Session, period: Annotated[str, Query(max_length=7)] = ""
) -> HTMLResponse:
    """A month's scorecards (default: this one): every partner that may be flagged, flagged
    ones first, and the busiest."""
    rt = runtime(request)
    lang = language(request)
    if not may(session.principal.role, Action.REPORTS):
        return message_page(request, session, text(lang, "scorecards_operator_only"), 403)
    month = period or str(Period.of(rt.clock().now(), rt.deployment.timezone))
    limits = rt.deployment.scorecard_thresholds
    try:
        shards = rt.shard_readers()
        flagged, flagged_count = national.scorecards(
            shards, rt.deployment, month, flagged_by=limits, busiest=SHOWN_CARDS
        )
        busiest, partners = national.scorecards(shards, rt.deployment, month, busiest=SHOWN_CARDS)
        cards = list({c.provider_code: c for c in [*flagged, *busiest]}.values())
    except Refused as refused:
        return message_page(request, session, refusal_text(lang, refused), 400)
    shown = sorted(
        (_card(card, limits) for card in cards),
        key=lambda c: (not c["flags"], -c["orders"], c["code"]),
    )
    return page(
        request,
        "scorecards.html",
        session=session,
        period=month,
        cards=shown[:SHOWN_CARDS],
        limited=partners > SHOWN_CARDS,
        limits=limits,
        flagged_count=flagged_count,
    )
