"""The bill-run pages: the runs so far, a form to start one (operator), and one run's
progress, its summary and the audit's answer for its period.

A run is started the way the API starts one (``services.bill_run_thread``): in a thread
of its own, the request answering once its record is committed, its events naming the
session's key. Whether the key may is the grant table's ``BILL_RUN``, asked before
anything is started. The runs are read through ``Runtime.reader``, so that on SQLite the
pages do not queue behind a run writing its chunks (the audit streams its rows, which
needs a transaction: a unit of work); a running run's page polls
``/bill-runs/{id}/progress`` and reloads once the run has stopped running.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from vasguard.bootstrap import Runtime
from vasguard.channels.console.strings import TEXTS, Language, refusal_text, text
from vasguard.channels.console.web import (
    PREFIX,
    CheckedSession,
    Session,
    language,
    message_page,
    page,
    redirect,
    runtime,
)
from vasguard.domain.access import Action, may
from vasguard.domain.console import ConsoleSession
from vasguard.domain.ledger import BillRunRecord
from vasguard.domain.money import yuan_decimal
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput, Refused
from vasguard.domain.shards import Addressed
from vasguard.services.audit import audit_period
from vasguard.services.bill_run_thread import start_bill_runs
from vasguard.services.ledger import bill_run, bill_runs_page

log = logging.getLogger("vasguard.channels.console")

router = APIRouter(prefix="/bill-runs", include_in_schema=False)

RunId = Annotated[int, Path(ge=1, le=2**53)]

SHOWN = 50  # runs a page
LISTED = 100  # audit violations listed on a run's page (all are counted)
MAX_PERIOD = 20


def _local(rt: Runtime, at: datetime | None) -> str:
    """A stored instant in the deployment's time zone, as staff read it."""
    if at is None:
        return ""
    return at.astimezone(ZoneInfo(rt.deployment.timezone)).strftime("%Y-%m-%d %H:%M:%S")


def _status(lang: Language, status: str) -> str:
    """A run's status in words: running, finished, or failed (superseded by a later run)."""
    key = f"bill_status_{status}"
    return text(lang, key) if key in TEXTS else status


def _progress(rt: Runtime, run: BillRunRecord) -> dict[str, Any]:
    """What changes while a run runs: the page shows it and the poll refreshes it."""
    return {
        "status": run.status,
        "started": _local(rt, run.started_at),
        "finished": _local(rt, run.finished_at),
        "cursor": run.cursor,
        "charged_count": run.charged_count,
        "charged_yuan": yuan_decimal(run.charged_fen),
    }


def _runs_page(
    request: Request,
    session: ConsoleSession,
    *,
    period: str = "",
    after: int = 0,
    typed: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rt = runtime(request)
    try:
        found = rt.listed(
            partial(
                bill_runs_page,
                deployment=rt.deployment,
                after=after,
                limit=SHOWN,
                period=period or None,
            ),
            lambda r: r.id,
            rows=SHOWN + 1,
        )
    except InvalidInput:
        found, error, status_code = [], text(language(request), "bill_bad_period"), 400
    later = None
    if len(found) > SHOWN:
        later = f"{PREFIX}/bill-runs?{urlencode({'period': period, 'after': found[SHOWN - 1].id})}"
    return page(
        request,
        "bill_runs.html",
        session=session,
        runs=[
            {"id": r.id, "period": r.period, "label": _status(language(request), r.status)}
            | _progress(rt, r)
            for r in found[:SHOWN]
        ],
        later=later,
        period=period,
        typed=typed,
        may_start=may(session.principal.role, Action.BILL_RUN),
        error=error,
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
def runs(
    request: Request,
    session: Session,
    period: str = "",
    after: Annotated[int, Query(ge=0, le=2**53)] = 0,
) -> Response:
    """The runs by id (a handful a month), one period's if asked, a page at a time."""
    return _runs_page(request, session, period=period.strip()[:MAX_PERIOD], after=after)


@router.post("", response_class=HTMLResponse)
def start(
    request: Request,
    session: CheckedSession,
    period: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Start the period's run as of now; its page follows it. Refused, nothing started:
    a key without ``BILL_RUN`` (403), a malformed period (400), a period not begun or one
    another run holds (409)."""
    lang = language(request)
    if not may(session.principal.role, Action.BILL_RUN):
        message = text(lang, "bill_operator_only")
        return message_page(request, session, message, 403)
    rt = runtime(request)
    typed = period.strip()[:MAX_PERIOD]
    try:
        Period.parse(period, rt.deployment.timezone)
    except InvalidInput:
        error = text(lang, "bill_bad_period")
        return _runs_page(request, session, typed=typed, error=error, status_code=400)
    try:
        runs = start_bill_runs(
            rt.shard_uows(),
            rt.clock(),
            rt.deployment,
            period.strip(),
            cause=session.principal.cause,
            parallel=rt.settings.shard_parallelism,
        )
    except Refused as refused:
        error = refusal_text(lang, refused)
        return _runs_page(request, session, typed=typed, error=error, status_code=409)
    log.info(
        "console bill run",
        extra={
            "key": session.principal.name,
            "period": typed,
            "bill_run_ids": [r.id for r in runs],
        },
    )
    if len(runs) > 1:  # a run a shard: the period's list shows them all
        return redirect(f"{PREFIX}/bill-runs?{urlencode({'period': str(runs[0].period)})}")
    return redirect(f"{PREFIX}/bill-runs/{runs[0].id}")


@router.get("/{bill_run_id}", response_class=HTMLResponse)
def one_run(request: Request, session: Session, bill_run_id: RunId) -> Response:
    """The run's progress; once it has stopped running, its summary and the audit of its
    period (every charge of the period re-checked from stored rows)."""
    rt = runtime(request)
    shard = rt.shard_holding(Addressed.BILL_RUN, bill_run_id)
    try:
        run = bill_run(rt.reader_on(shard), bill_run_id)
    except Refused as refused:
        message = refusal_text(language(request), refused)
        return message_page(request, session, message, 404)
    running = run.status == "running"
    audit = (
        None
        if running
        else audit_period(rt.uow_on(shard), rt.deployment, run.period, listed=LISTED)
    )
    return page(
        request,
        "bill_run.html",
        session=session,
        run=run,
        progress=_progress(rt, run),
        status=_status(language(request), run.status),
        running=running,
        charged=[
            {"kind": kind, "count": made.count, "yuan": yuan_decimal(made.fen)}
            for kind, made in sorted(run.charged.items())
        ],
        skipped=sorted(run.skipped.items()),
        exempt=[
            {
                "service": e.service,
                "reason": e.reason,
                "charges": e.charges,
                "yuan": yuan_decimal(e.fen),
            }
            for e in run.exempt
        ],
        audit=audit,
    )


@router.get("/{bill_run_id}/progress")
def progress(request: Request, session: Session, bill_run_id: RunId) -> JSONResponse:
    """The run's progress for its page to poll (the API's needs a bearer key)."""
    rt = runtime(request)
    try:
        run = bill_run(rt.reader_holding(Addressed.BILL_RUN, bill_run_id), bill_run_id)
    except Refused as refused:
        return JSONResponse({"error": refusal_text(language(request), refused)}, 404)
    return JSONResponse(_progress(rt, run))
