"""The console's pages: login, logout, the language switch, home, the phone simulator and
the subscriber page.

``mount`` puts them under ``/console`` of the API's app, as their own sub-application: no
route of theirs is in the API's OpenAPI schema (the schema, its fuzzing and the route ×
role matrix are the API's), and their errors are pages, not problem documents.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from vasguard.bootstrap import Runtime
from vasguard.channels.console import bill_runs, catalogue, dashboard, phone, subscribers
from vasguard.channels.console.strings import refusal_text, text
from vasguard.channels.console.web import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    CheckedSession,
    Session,
    install,
    language,
    language_switch,
    new_login_csrf,
    page,
    redirect,
    runtime,
    set_cookie,
)
from vasguard.domain.refusals import Refused
from vasguard.services.console_sessions import log_in, log_out


def mount(app: FastAPI, rt: Runtime) -> None:
    """Serve the console under ``/console`` of ``app``."""
    app.mount(PREFIX, console_app(rt))


def console_app(rt: Runtime) -> FastAPI:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.runtime = rt
    install(console)
    console.mount(
        "/static",
        StaticFiles(packages=[("vasguard.channels.console", "static")]),
        name="static",
    )
    console.include_router(phone.router)
    console.include_router(subscribers.router)
    console.include_router(bill_runs.router)
    console.include_router(catalogue.router)
    console.include_router(dashboard.router)

    @console.get("/", response_class=HTMLResponse)
    def home(request: Request, session: Session) -> HTMLResponse:
        return page(request, "home.html", session=session)

    @console.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, ended: bool = False, out: bool = False) -> Response:
        notice = "session_ended" if ended else "logged_out" if out else None
        return _login_page(request, notice=notice)

    @console.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        key: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not expected or expected != csrf:
            return _login_page(
                request, error=text(language(request), "csrf_failed"), status_code=403
            )
        rt = runtime(request)
        try:
            opened = log_in(rt.uow(), rt.clock(), key)
        except Refused as refused:
            shown = refusal_text(language(request), refused)
            return _login_page(request, error=shown, status_code=403)
        response = redirect(f"{PREFIX}/")
        set_cookie(request, response, SESSION_COOKIE, opened.token, PREFIX)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
        return response

    @console.post("/logout")
    def logout(request: Request, _: CheckedSession) -> Response:
        rt = runtime(request)
        log_out(rt.uow(), rt.clock(), request.cookies[SESSION_COOKIE])
        response = redirect(f"{PREFIX}/login?out=1")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @console.get("/lang")
    def switch_language(request: Request, to: str = "zh", next: str = f"{PREFIX}/") -> Response:
        return language_switch(request, to, next, PREFIX)

    return console


def _login_page(
    request: Request, *, notice: str | None = None, error: str | None = None, status_code: int = 200
) -> Response:
    """The login form with a fresh double-submit CSRF token (cookie and hidden field)."""
    csrf = new_login_csrf()
    response = page(
        request, "login.html", csrf=csrf, notice=notice, error=error, status_code=status_code
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf, PREFIX)
    return response
