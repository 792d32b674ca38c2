"""The catalogue page: search services, read the reminder-exempt ones with their reasons,
and (operator) set or end an exemption.

An exemption goes through ``services.catalogue.set_exemption``, as the API's does, so its
event names the session's key; whether the key may is the grant table's
``EDIT_CATALOGUE``, asked before anything is read or written.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

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
from vasguard.domain.catalogue import Service
from vasguard.domain.console import ConsoleSession
from vasguard.domain.money import yuan_decimal
from vasguard.domain.refusals import Refused
from vasguard.services.catalogue import search_services, set_exemption

router = APIRouter(prefix="/catalogue", include_in_schema=False)

Code = Annotated[str, Path(max_length=21)]
After = Annotated[int, Query(ge=0, le=2**53)]

SHOWN = 50  # services a page, in the search and in the exempt list
MAX_SEARCH = 50
MAX_REASON = 500
DONE = {"set": "cat_set_done", "ended": "cat_end_done"}


def _shown(service: Service) -> dict[str, Any]:
    return {
        "code": service.code,
        "name": service.name,
        "provider": service.provider_name,
        "mode": service.billing_mode.value,
        "price": yuan_decimal(service.price_fen),
        "reason": service.reminder_exempt_reason,
    }


def _next(found: list[Service], cursor: str, **params: str | int) -> str | None:
    """The link to the page after ``found`` (fetched one longer than shown), if any:
    ``cursor`` is the last id shown."""
    if len(found) <= SHOWN:
        return None
    return f"{PREFIX}/catalogue?{urlencode({**params, cursor: found[SHOWN - 1].id})}"


def _catalogue_page(
    request: Request,
    session: ConsoleSession,
    *,
    search: str = "",
    after: int = 0,
    exempt_after: int = 0,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rt = runtime(request)
    principal = session.principal

    def one_more(search: str | None, exempt: bool | None, after: int) -> list[Service]:
        return search_services(
            rt.reader(),
            principal,
            search=search,
            provider_code=None,
            exempt=exempt,
            after=after,
            limit=SHOWN + 1,
        )

    found = one_more(search or None, None, after)
    exempt = one_more(None, True, exempt_after)
    return page(
        request,
        "catalogue.html",
        session=session,
        search=search,
        services=[_shown(s) for s in found[:SHOWN]],
        exempt=[_shown(s) for s in exempt[:SHOWN]],
        next_found=_next(found, "after", q=search, exempt_after=exempt_after),
        next_exempt=_next(exempt, "exempt_after", q=search, after=after),
        may_edit=may(principal.role, Action.EDIT_CATALOGUE),
        notice=notice,
        error=error,
        status_code=status_code,
    )


@router.get("", response_class=HTMLResponse)
def catalogue(
    request: Request,
    session: Session,
    q: str = "",
    after: After = 0,
    exempt_after: After = 0,
    done: str = "",
) -> Response:
    """Services by code prefix or name, each page after the last id shown (keyset)."""
    notice = text(language(request), DONE[done]) if done in DONE else None
    return _catalogue_page(
        request,
        session,
        search=q.strip()[:MAX_SEARCH],
        after=after,
        exempt_after=exempt_after,
        notice=notice,
    )


def _change(request: Request, session: ConsoleSession, code: str, reason: str | None) -> Response:
    """Set (``reason``) or end (``None``) the exemption of ``code`` if the key may; a
    refusal is the page again with why, and nothing changed."""
    lang = language(request)
    if not may(session.principal.role, Action.EDIT_CATALOGUE):
        message = text(lang, "cat_operator_only")
        return message_page(request, session, message, 403)
    error = None
    if reason is not None and not reason.strip():
        error = text(lang, "reason_needed")
    elif reason is not None and len(reason) > MAX_REASON:
        error = text(lang, "reason_too_long")
    if error is not None:
        return _catalogue_page(request, session, search=code, error=error, status_code=400)
    rt = runtime(request)
    try:
        set_exemption(rt.uow(), rt.clock(), code=code, reason=reason, principal=session.principal)
    except Refused as refused:
        shown = refusal_text(lang, refused)
        return _catalogue_page(request, session, search=code, error=shown, status_code=404)
    done = "ended" if reason is None else "set"
    return redirect(f"{PREFIX}/catalogue?{urlencode({'q': code.strip(), 'done': done})}")


@router.post("/{code}/exemption", response_class=HTMLResponse)
def exempt(
    request: Request,
    session: CheckedSession,
    code: Code,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Exempt the service from the charge reminder; the reason says why it cannot cover it."""
    return _change(request, session, code, reason)


@router.post("/{code}/exemption/end", response_class=HTMLResponse)
def end_exemption(request: Request, session: CheckedSession, code: Code) -> Response:
    """End the exemption: the charge reminder covers the service again."""
    return _change(request, session, code, None)
