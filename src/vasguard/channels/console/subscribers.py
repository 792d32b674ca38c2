"""The subscriber page: look a number up, read its plans, subscriptions, charges and timeline,
open a charge's evidence chain, and act for the customer (cancel, complain, refund).

Everything goes through the services the API's routes call, with the session's
principal, so a provincial key sees its own province only (another's number or charge
is not found, as over the API). Each action is a form carrying the session's CSRF token
and a reason: a complaint keeps it as its text, a cancellation and a refund in their
events, beside the key that made them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from vasguard.bootstrap import Runtime
from vasguard.channels.console.strings import refusal_text, text
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
from vasguard.domain.ledger import ChargeEvidence
from vasguard.domain.msisdn import normalise
from vasguard.domain.refusals import Refused
from vasguard.domain.shards import Addressed
from vasguard.domain.timeline import (
    Entry,
    EventEntry,
    MessageEntry,
    decode_timeline_cursor,
    encode_timeline_cursor,
)
from vasguard.services.care import open_for_customer
from vasguard.services.ledger import charge_evidence, charges_page
from vasguard.services.orders import find_subscriber
from vasguard.services.plans import plan_history
from vasguard.services.resolutions import refund_charge
from vasguard.services.subscribers import timeline
from vasguard.services.subscriptions import cancel_for_customer, subscriptions_of

router = APIRouter(include_in_schema=False)

Number = Annotated[str, Path(max_length=32)]
Reason = Annotated[str, Form(max_length=2000)]

SHOWN = 100  # timeline entries, subscriptions and charges on the page
MAX_REASON = 500


def _at(rt: Runtime, at: datetime | None) -> str:
    """A stored instant in the deployment's time zone, as staff read it."""
    if at is None:
        return ""
    return at.astimezone(ZoneInfo(rt.deployment.timezone)).strftime("%Y-%m-%d %H:%M:%S")


def _reason(request: Request, reason: str) -> str | None:
    """The refusal to show for a missing or overlong reason, else ``None``."""
    if not reason.strip():
        return text(language(request), "reason_needed")
    if len(reason) > MAX_REASON:
        return text(language(request), "reason_too_long")
    return None


def _not_found(request: Request, session: ConsoleSession, refused: Refused) -> HTMLResponse:
    return message_page(request, session, refusal_text(language(request), refused), 404)


@router.get("/subscribers", response_class=HTMLResponse)
def lookup(request: Request, session: Session, msisdn: str = "") -> Response:
    """The lookup form; a number in any accepted form opens its page."""
    if not msisdn:
        return page(request, "subscriber_lookup.html", session=session, typed="", error=None)
    try:
        number = normalise(msisdn[:32])
    except Refused as refused:
        error = refusal_text(language(request), refused)
        return page(
            request, "subscriber_lookup.html", session=session, typed=msisdn[:32], error=error
        )
    return redirect(f"{PREFIX}/subscribers/{number}")


def _entry(rt: Runtime, entry: Entry) -> dict[str, Any]:
    """One timeline line: its kind, time, a short text and, for an MT, its delivery; an
    event reads as what moved, how, and its cause (who or what did it)."""
    shown: dict[str, Any] = {"kind": entry.kind.value, "id": entry.id, "at": _at(rt, entry.at)}
    if isinstance(entry, MessageEntry):
        shown["kind"] = entry.direction
        shown["text"] = entry.text
        if entry.direction == "mt":
            shown["state"] = entry.receipt_status or entry.status
    elif isinstance(entry, EventEntry):
        detail = "".join(f" · {k}={v}" for k, v in entry.detail.items())
        shown["text"] = (
            f"{entry.entity} #{entry.entity_id} {entry.event} "
            f"({entry.cause_kind}:{entry.cause_ref}){detail}"
        )
    else:
        shown["text"] = ", ".join(
            f"{f.name}={getattr(entry, f.name)}"
            for f in fields(entry)
            if f.name not in ("id", "at") and getattr(entry, f.name) not in (None, "")
        )
    return shown


def _profile(
    request: Request,
    session: ConsoleSession,
    msisdn: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    older: str | None = None,
) -> HTMLResponse:
    """The subscriber's page; ``older``: the timeline continues after that cursor."""
    rt = runtime(request)
    principal = session.principal
    shard = rt.shard_of(msisdn)  # looked up once for the page's five reads
    with rt.reader_on(shard) as uow:
        subscriber = find_subscriber(uow, msisdn, principal)
    plans = plan_history(rt.reader_on(shard), msisdn, principal)
    subscriptions = subscriptions_of(rt.reader_on(shard), msisdn, principal, after=0, limit=SHOWN)
    charges = charges_page(
        rt.reader_on(shard),
        rt.deployment,
        principal,
        after=0,
        limit=SHOWN,
        msisdn=subscriber.msisdn,
    )
    after = decode_timeline_cursor(older)
    entries = timeline(
        rt.reader_on(shard), msisdn=msisdn, principal=principal, after=after, limit=SHOWN + 1
    )
    more = len(entries) > SHOWN
    entries = entries[:SHOWN]
    return page(
        request,
        "subscriber.html",
        session=session,
        subscriber=subscriber,
        plans=[
            {
                **_fields(p),
                "ordered": _at(rt, p.ordered_at),
                "from": _at(rt, p.effective_from),
                "to": _at(rt, p.effective_to),
            }
            for p in plans
        ],
        subscriptions=[
            {**_fields(s), "ordered": _at(rt, s.ordered_at), "ended": _at(rt, s.ended_at)}
            for s in subscriptions
        ],
        charges=[{**_fields(c), "at": _at(rt, c.created_at)} for c in charges],
        entries=[_entry(rt, e) for e in entries],
        older=encode_timeline_cursor(entries[-1].key) if more else None,
        paged=after is not None,
        error=error,
        notice=notice,
        status_code=status_code,
    )


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields for a template (records are slotted dataclasses)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


@router.get("/subscribers/{msisdn}", response_class=HTMLResponse)
def profile(
    request: Request,
    session: Session,
    msisdn: Number,
    older: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    try:
        return _profile(request, session, msisdn, older=older)
    except Refused as refused:
        return _not_found(request, session, refused)


def _act(
    request: Request,
    session: ConsoleSession,
    msisdn: str,
    action: Action,
    reason: str,
    done: str,
    act: Callable[[], None],
) -> Response:
    """Run ``act`` if the key may and a reason is given; the page again, with what happened."""
    error = _reason(request, reason)
    if error is None and not may(session.principal.role, action):
        error = text(language(request), "not_allowed")
    if error is None:
        try:
            act()
        except Refused as refused:
            error = refusal_text(language(request), refused)
    try:
        if error is not None:
            return _profile(request, session, msisdn, error=error, status_code=400)
        return _profile(request, session, msisdn, notice=text(language(request), done))
    except Refused as refused:
        return _not_found(request, session, refused)


@router.post("/subscribers/{msisdn}/cancellation", response_class=HTMLResponse)
def cancel(
    request: Request,
    session: CheckedSession,
    msisdn: Number,
    subscription_id: Annotated[int, Form(ge=1, le=2**53)],
    reason: Reason = "",
) -> Response:
    """Cancel one subscription as the API's cancellation does (the customer is told by SMS)."""
    rt = runtime(request)

    def act() -> None:
        cancel_for_customer(
            rt.uow_for(msisdn),
            rt.clock(),
            rt.deployment,
            msisdn=msisdn,
            subscription_ids=[subscription_id],
            principal=session.principal,
            reason=reason.strip(),
        )

    return _act(request, session, msisdn, Action.CANCEL, reason, "cancelled_done", act)


@router.post("/subscribers/{msisdn}/complaint", response_class=HTMLResponse)
def complain(
    request: Request,
    session: CheckedSession,
    msisdn: Number,
    subscription_id: Annotated[int, Form(ge=1, le=2**53)],
    reason: Reason = "",
) -> Response:
    """Open a complaint for the customer; the reason is its text, as the customer's TS is."""
    rt = runtime(request)

    def act() -> None:
        open_for_customer(
            rt.uow_for(msisdn),
            rt.clock(),
            rt.deployment,
            session.principal,
            msisdn=msisdn,
            subscription_id=subscription_id,
            text=reason.strip(),
        )

    return _act(request, session, msisdn, Action.COMPLAIN, reason, "complaint_done", act)


def _evidence_page(
    request: Request,
    session: ConsoleSession,
    charge_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rt = runtime(request)
    found = charge_evidence(
        rt.reader_holding(Addressed.CHARGE, charge_id), session.principal, charge_id
    )
    return page(
        request,
        "charge.html",
        session=session,
        charge=found.charge,
        links=_links(request, rt, found),
        refunded=found.refund is not None,
        error=error,
        status_code=status_code,
    )


def _links(request: Request, rt: Runtime, found: ChargeEvidence) -> list[dict[str, str]]:
    """The chain's links in the order they happened, each with its time and its text."""
    lang = language(request)
    links: list[dict[str, str]] = []

    def add(kind: str, at: datetime | None, body: str) -> None:
        links.append(
            {"kind": kind, "title": text(lang, f"link_{kind}"), "at": _at(rt, at), "text": body}
        )

    if found.order is not None:
        o = found.order
        add("order", o.ordered_at, f"{o.service_name} ({o.service}) · {o.provider} · {o.channel}")
    if found.plan_order is not None:
        p = found.plan_order
        add("plan_order", p.ordered_at, f"{p.plan_name} ({p.plan}) · {p.channel}")
    if found.confirmation_request is not None:
        add("request", found.confirmation_request.created_at, found.confirmation_request.text)
    if found.confirmation is not None:
        add("confirmation", found.confirmation.created_at, found.confirmation.text)
    if found.reminder is not None:
        r = found.reminder
        add("reminder", r.created_at, r.text)
        add("receipt", r.receipt_at, r.receipt_status or r.status)
    if found.bill_run is not None:
        b = found.bill_run
        add("bill_run", b.run_at, f"#{b.id} · {b.period} · {b.status}")
    c = found.charge
    add("charge", c.created_at, f"#{c.id} · {c.period} · {c.kind} · {c.amount_fen} fen")
    if found.refund is not None:
        f = found.refund
        add("refund", f.created_at, f"#{f.id} · {f.amount_fen} fen · {f.cause}")
    for hold in found.holds:
        add("hold", hold.opened_at, hold.ticket)
    return links


@router.get("/charges/{charge_id}", response_class=HTMLResponse)
def evidence(
    request: Request, session: Session, charge_id: Annotated[int, Path(ge=1, le=2**53)]
) -> Response:
    try:
        return _evidence_page(request, session, charge_id)
    except Refused as refused:
        return _not_found(request, session, refused)


@router.post("/charges/{charge_id}/refund", response_class=HTMLResponse)
def refund(
    request: Request,
    session: CheckedSession,
    charge_id: Annotated[int, Path(ge=1, le=2**53)],
    reason: Reason = "",
) -> Response:
    """Refund the charge in full; the refund then shows as the chain's last link."""
    rt = runtime(request)
    error = _reason(request, reason)
    if error is None and not may(session.principal.role, Action.REFUND):
        error = text(language(request), "not_allowed")
    if error is None:
        try:
            refund_charge(
                rt.uow_holding(Addressed.CHARGE, charge_id),
                rt.clock(),
                charge_id=charge_id,
                amount_fen=None,
                cause=session.principal.cause,
                principal=session.principal,
                reason=reason.strip(),
            )
            return redirect(f"{PREFIX}/charges/{charge_id}")
        except Refused as refused:
            error = refusal_text(language(request), refused)
    try:
        return _evidence_page(request, session, charge_id, error=error, status_code=400)
    except Refused as refused:
        return _not_found(request, session, refused)
