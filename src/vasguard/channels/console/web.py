"""What every console page shares: templates, the language, cookies, the session check.

The session id travels in an HttpOnly, SameSite=Strict cookie scoped to ``/console``
(``Secure`` when the request came over HTTPS), so no script and no other site sends or
reads it. Every form carries the session's CSRF token, and a ``fetch`` sends it in
``X-CSRF-Token``; the login form, before there is a session, uses a double-submit
cookie. Responses carry a strict Content-Security-Policy: no inline script, nothing
from elsewhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from vasguard.bootstrap import Runtime
from vasguard.channels.console.strings import LANGUAGES, Language, language_of, text
from vasguard.domain.console import ConsoleSession
from vasguard.services.console_sessions import csrf_matches, session_of

PREFIX = "/console"
SESSION_COOKIE = "vg_session"
LOGIN_CSRF_COOKIE = "vg_login_csrf"
LANGUAGE_COOKIE = "vg_lang"
CSRF_HEADER = "X-CSRF-Token"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# The menu, in order; a page not built yet has no path (the dashboard and the partner
# scorecards follow the API's resources).
NAV: list[tuple[str, str | None]] = [
    ("nav_home", "/"),
    ("nav_phone", "/phone"),
    ("nav_dashboard", "/dashboard"),
    ("nav_subscribers", "/subscribers"),
    ("nav_bill_runs", "/bill-runs"),
    ("nav_catalogue", "/catalogue"),
    ("nav_partners", "/partners"),
]

templates = Environment(
    loader=PackageLoader("vasguard.channels.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class LoginNeeded(Exception):
    """No live session: a page sends the browser to the login form, a fetch gets 401."""


class FormExpired(Exception):
    """A form or fetch without this session's CSRF token: nothing done."""


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def language(request: Request) -> Language:
    return language_of(request.cookies.get(LANGUAGE_COOKIE))


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def current_session(request: Request) -> ConsoleSession:
    """The live session of this request (read with its key on every request)."""
    token = request.cookies.get(SESSION_COOKIE)
    rt = runtime(request)
    session = session_of(rt.reader(), rt.clock(), token, rt.uow) if token else None
    if session is None:
        raise LoginNeeded
    return session


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the header of a fetch, else the form's field."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        field = (await request.form()).get("csrf")
        presented = field if isinstance(field, str) else None
    return presented


async def checked_session(request: Request) -> ConsoleSession:
    """The live session of a request that changes something: its CSRF token must match."""
    session = current_session(request)
    if not csrf_matches(session.csrf_token, await presented_csrf(request)):
        raise FormExpired
    return session


# A route's session: ``Session`` to read a page, ``CheckedSession`` to change something.
Session = Annotated[ConsoleSession, Depends(current_session)]
CheckedSession = Annotated[ConsoleSession, Depends(checked_session)]


def page(
    request: Request,
    template: str,
    *,
    session: ConsoleSession | None = None,
    status_code: int = 200,
    prefix: str = PREFIX,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the request's language, for the console or (``prefix``
    ``/my``) the customer's page."""
    lang = language(request)
    body = templates.get_template(template).render(
        t=lambda key: text(lang, key),
        lang=lang,
        other_lang="en" if lang == "zh" else "zh",
        prefix=prefix,
        here=quote(request.url.path + (f"?{request.url.query}" if request.url.query else "")),
        session=session,
        nav=NAV,
        **context,
    )
    return HTMLResponse(body, status_code=status_code)


def message_page(
    request: Request, session: ConsoleSession | None, message: str, status_code: int
) -> HTMLResponse:
    """A page saying only ``message``: why a request was refused or found nothing."""
    return page(request, "message.html", session=session, message=message, status_code=status_code)


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def set_cookie(request: Request, response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def language_switch(request: Request, to: str, next: str, prefix: str) -> Response:
    """A preference, not an action: a link, so it needs no form. ``next`` must be a path
    under ``prefix`` (no redirect off the site)."""
    back = next if next.startswith(f"{prefix}/") and "//" not in next else f"{prefix}/"
    response = redirect(back)
    chosen = language_of(to) if to in LANGUAGES else language(request)
    set_cookie(request, response, LANGUAGE_COOKIE, chosen, "/")
    return response


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def install_headers(app: FastAPI) -> None:
    """Every page's security headers (no inline script, no framing, no caching)."""

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def install(app: FastAPI) -> None:
    """The console's answers to a missing session and an expired form, and its headers."""
    install_headers(app)

    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, _: LoginNeeded) -> Response:
        if wants_json(request):
            return JSONResponse({"error": text(language(request), "session_ended")}, 401)
        ended = "?ended=1" if request.cookies.get(SESSION_COOKIE) else ""
        response = redirect(f"{PREFIX}/login{ended}")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @app.exception_handler(FormExpired)
    async def form_expired(request: Request, _: FormExpired) -> Response:
        message = text(language(request), "csrf_failed")
        if wants_json(request):
            return JSONResponse({"error": message}, 403)
        return page(request, "message.html", message=message, status_code=403)
