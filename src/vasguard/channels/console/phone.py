"""The phone simulator: a subscriber's conversation as the handset shows it, and a box
to text the service number as that subscriber.

A simulated MO goes the way an MO from the built-in (loopback) SMSC goes, into
``services.intake`` — never the gateway's ``POST /api/v1/sms/mo``, which is for the
gateway alone (an MO is consent). Its SMSC id names the console key that typed it, so
the stored MO says who it was. With a real SMSC configured the simulator is refused:
there, a message typed by staff would be forged consent.
"""

from __future__ import annotations

import logging
import secrets
from functools import partial
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from vasguard.bootstrap import Runtime
from vasguard.channels.console.strings import refusal_text, text
from vasguard.channels.console.web import (
    PREFIX,
    CheckedSession,
    Session,
    language,
    page,
    redirect,
    runtime,
    wants_json,
)
from vasguard.domain.console import ConsoleSession
from vasguard.domain.messages import MessageView
from vasguard.domain.msisdn import normalise
from vasguard.domain.refusals import Refused
from vasguard.services.intake import receive_mo
from vasguard.services.messaging import conversation
from vasguard.services.orders import find_subscriber
from vasguard.services.subscribers import list_subscribers

log = logging.getLogger("vasguard.channels.console")

router = APIRouter(prefix="/phone", include_in_schema=False)

Number = Annotated[str, Path(max_length=32)]

SHOWN = 50  # messages in the conversation view
PICKS = 8  # subscribers offered to pick from, the first of those the key may see
MAX_MO = 500  # characters a simulated MO may have (a long concatenated SMS)


def _loopback(rt: Runtime) -> bool:
    return rt.settings.smpp_host is None


@router.get("", response_class=HTMLResponse)
def picker(request: Request, session: Session, msisdn: str = "") -> Response:
    """Pick a number: typed, one of the first subscribers the key may see, or one opened
    lately (kept by the browser)."""
    if not msisdn:
        rt = runtime(request)
        some = rt.listed(
            partial(
                list_subscribers,
                principal=session.principal,
                province=None,
                status="active",
                after=0,
                limit=PICKS,
            ),
            lambda s: s.id,
            rows=PICKS,
            province=session.principal.province,
        )
        return _phone_page(request, session, picks=[s.msisdn for s in some])
    try:
        number = normalise(msisdn[:32])
    except Refused as refused:
        return _phone_page(
            request, session, typed=msisdn[:32], error=refusal_text(language(request), refused)
        )
    return redirect(f"{PREFIX}/phone/{number}")


@router.get("/{msisdn}", response_class=HTMLResponse)
def handset(request: Request, session: Session, msisdn: Number) -> Response:
    rt = runtime(request)
    try:
        messages = conversation(
            rt.reader_for(msisdn), msisdn=msisdn, last=SHOWN, principal=session.principal
        )
    except Refused as refused:
        return _phone_page(
            request,
            session,
            typed=msisdn,
            error=refusal_text(language(request), refused),
            status_code=404,
        )
    return _phone_page(
        request, session, number=normalise(msisdn), messages=_shown(rt, messages, request)
    )


@router.get("/{msisdn}/messages")
def messages_json(request: Request, session: Session, msisdn: Number) -> JSONResponse:
    """The conversation for the page to poll: replies appear without a reload."""
    rt = runtime(request)
    try:
        messages = conversation(
            rt.reader_for(msisdn), msisdn=msisdn, last=SHOWN, principal=session.principal
        )
    except Refused as refused:
        return JSONResponse({"error": refusal_text(language(request), refused)}, 404)
    return JSONResponse({"messages": _shown(rt, messages, request)})


@router.post("/{msisdn}/mo")
def send_mo(
    request: Request,
    session: CheckedSession,
    msisdn: Number,
    body: Annotated[str, Form(alias="text", max_length=4 * MAX_MO)] = "",
) -> Response:
    """Text the service number as ``msisdn``, through the intake the loopback SMSC uses."""
    rt = runtime(request)
    lang = language(request)
    error = None
    if not _loopback(rt):
        error = text(lang, "phone_loopback_only")
    elif not body.strip():
        error = text(lang, "empty_message")
    elif len(body) > MAX_MO:
        error = text(lang, "message_too_long")
    if error is None:
        try:
            shard = rt.shard_of(msisdn)  # looked up once for both transactions
            with rt.uow_on(shard) as uow:
                subscriber = find_subscriber(uow, msisdn, session.principal)
            result = receive_mo(
                rt.uow_on(shard),
                rt.clock(),
                rt.deployment,
                msisdn=subscriber.msisdn,
                to=rt.deployment.service_number,
                text=body,
                smsc_message_id=_mo_id(session),
            )
            log.info(
                "console MO",
                extra={
                    "key": session.principal.name,
                    "msisdn": subscriber.msisdn,
                    "mo_id": result.mo_id,
                },
            )
        except Refused as refused:
            error = refusal_text(lang, refused)
    if wants_json(request):
        return JSONResponse({"error": error} if error else {"ok": True}, 400 if error else 200)
    if error:
        return _phone_page(request, session, typed=msisdn, error=error, status_code=400)
    return redirect(f"{PREFIX}/phone/{normalise(msisdn)}")


def _mo_id(session: ConsoleSession) -> str:
    """The loopback SMSC's id of a simulated MO: the console key that typed it, and a
    random part (so it is never taken for a redelivery)."""
    return f"console-k{session.principal.key_row_id}-{secrets.token_hex(8)}"


def _shown(rt: Runtime, messages: list[MessageView], request: Request) -> list[dict[str, Any]]:
    """Each message as the handset shows it: an MT whole (its parts joined), local time."""
    zone = ZoneInfo(rt.deployment.timezone)
    queued = text(language(request), "phone_queued")
    return [
        {
            "id": m.id,
            "mine": m.direction == "mo",
            "peer": m.peer,
            "text": m.text,
            "at": m.at.astimezone(zone).strftime("%m-%d %H:%M"),
            "note": queued if m.direction == "mt" and m.status == "queued" else "",
        }
        for m in messages
    ]


def _phone_page(
    request: Request,
    session: ConsoleSession,
    *,
    number: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    typed: str = "",
    picks: list[str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rt = runtime(request)
    return page(
        request,
        "phone.html",
        session=session,
        number=number,
        messages=messages or [],
        typed=typed,
        picks=picks or [],
        error=error,
        loopback=_loopback(rt),
        service_number=rt.deployment.service_number,
        status_code=status_code,
    )
