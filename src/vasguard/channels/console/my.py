"""The customer's own page (``/my``): log in with a code sent by SMS, see every monthly
service held (the 0000 list), cancel one, several or all after a confirmation step.

Mounted beside the console, with its own cookies scoped to ``/my`` and the same rules:
HttpOnly, SameSite=Strict session cookie, a CSRF token on every form (double-submit
before the login, the session's after), pages in Chinese or English.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse

from vasguard.bootstrap import Runtime
from vasguard.channels.console.strings import refusal_text, text
from vasguard.channels.console.web import (
    install_headers,
    language,
    language_switch,
    new_login_csrf,
    page,
    presented_csrf,
    redirect,
    runtime,
    set_cookie,
)
from vasguard.domain.customer_login import (
    ADDRESS_CODES_PER_HOUR,
    CustomerSession,
    wait_before_next_code,
)
from vasguard.domain.money import yuan, yuan_en
from vasguard.domain.refusals import Refused
from vasguard.services.console_sessions import csrf_matches
from vasguard.services.customer_login import (
    customer_session,
    log_in_with_code,
    log_out_customer,
    request_code,
)
from vasguard.services.self_service import (
    HeldService,
    cancel_services,
    chosen_services,
    held_services,
)
from vasguard.services.unit_of_work import UnitOfWork

PREFIX = "/my"
SESSION_COOKIE = "vg_my"
LOGIN_CSRF_COOKIE = "vg_my_csrf"

Ids = Annotated[list[str] | None, Form()]


class CustomerLoginNeeded(Exception):
    """No live login: back to the number form."""


class CustomerFormExpired(Exception):
    """A form without this login's CSRF token: nothing done."""


class CodeAsks:
    """When each client address asked for codes in the last hour, in this process (N
    processes behind a balancer allow N times as many). Unknown numbers count too: they
    are what a sweep through the numbering plan would ask for."""

    KEEP = 10_000  # addresses remembered; the one asking least lately is forgotten first

    def __init__(self) -> None:
        self._asked: OrderedDict[str, list[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def ask(self, address: str, at: datetime) -> timedelta | None:
        """Count an ask from ``address`` now, or say how long it must wait (not counted)."""
        with self._lock:
            times = [t for t in self._asked.pop(address, []) if t > at - timedelta(hours=1)]
            wait = wait_before_next_code(
                times, at, per_hour=ADDRESS_CODES_PER_HOUR, spacing=timedelta(0)
            )
            if wait is None:
                times.append(at)
            self._asked[address] = times
            while len(self._asked) > self.KEEP:
                self._asked.popitem(last=False)
            return wait


def mount(app: FastAPI, rt: Runtime) -> None:
    app.mount(PREFIX, my_app(rt))


def _session_cookie(rt: Runtime, msisdn: str, token: str) -> str:
    """The cookie of a new login: its token, after the shard that holds it when the
    deployment is sharded (``east.<token>``), so each page asks that shard alone."""
    if not rt.shard_map.configured:
        return token
    return f"{rt.shard_of(msisdn)}.{token}"


def _from_cookie(request: Request) -> tuple[str | None, str] | None:
    """The shard (``None``: the national database, unsharded) and the token of the session
    cookie; ``None`` when there is none, or it names no shard of ours (a forged or stale
    one: the token is looked up nowhere)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    shard, _, token = cookie.rpartition(".")  # a token is URL-safe base64: no dots
    if shard and shard not in runtime(request).shard_engines:
        return None
    return shard or None, token


def _session(request: Request) -> CustomerSession | None:
    found = _from_cookie(request)
    if found is None:
        return None
    rt = runtime(request)
    return customer_session(rt.uow_on(found[0]), rt.clock(), found[1])


def _uow(request: Request) -> UnitOfWork:
    """A unit of work on the shard of the logged-in customer's session."""
    found = _from_cookie(request)
    return runtime(request).uow_on(None if found is None else found[0])


def current_customer(request: Request) -> CustomerSession:
    found = _session(request)
    if found is None:
        raise CustomerLoginNeeded
    return found


async def checked_customer(request: Request) -> CustomerSession:
    found = current_customer(request)
    if not csrf_matches(found.csrf_token, await presented_csrf(request)):
        raise CustomerFormExpired
    return found


Customer = Annotated[CustomerSession, Depends(current_customer)]
CheckedCustomer = Annotated[CustomerSession, Depends(checked_customer)]


def my_app(rt: Runtime) -> FastAPI:
    my = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    my.state.runtime = rt
    install_headers(my)
    asks = CodeAsks()

    @my.exception_handler(CustomerLoginNeeded)
    async def login_needed(request: Request, _: CustomerLoginNeeded) -> Response:
        response = redirect(f"{PREFIX}/")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @my.exception_handler(CustomerFormExpired)
    async def form_expired(request: Request, _: CustomerFormExpired) -> Response:
        shown = text(language(request), "csrf_failed")
        return _services_page(request, current_customer(request), shown, 403)

    @my.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        found = _session(request)
        if found is None:
            return _number_page(request)
        return _services_page(request, found)

    @my.post("/code", response_class=HTMLResponse)
    def send_code(
        request: Request,
        msisdn: Annotated[str, Form(max_length=32)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        if not _login_csrf_ok(request, csrf):
            return _number_page(request, error=text(language(request), "csrf_failed"), status=403)
        address = request.client.host if request.client else ""
        if asks.ask(address, rt.clock().now()) is not None:
            shown = text(language(request), "address_too_many")
            return _number_page(request, typed=msisdn, error=shown, status=429)
        try:
            sent = request_code(rt.uow_for(msisdn), rt.clock(), rt.deployment, msisdn)
        except Refused as refused:
            shown = refusal_text(language(request), refused)
            if refused.code == "code_too_soon":
                return _code_page(request, msisdn, error=shown, status=429)
            return _number_page(request, typed=msisdn, error=shown, status=400)
        notice = text(language(request), "my_code_sent", minutes=sent.valid_minutes)
        return _code_page(request, sent.msisdn, notice=notice)

    @my.post("/login", response_class=HTMLResponse)
    def log_in(
        request: Request,
        msisdn: Annotated[str, Form(max_length=32)] = "",
        code: Annotated[str, Form(max_length=20)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        if not _login_csrf_ok(request, csrf):
            return _number_page(request, error=text(language(request), "csrf_failed"), status=403)
        try:
            opened = log_in_with_code(rt.uow_for(msisdn), rt.clock(), msisdn, code)
        except Refused as refused:
            shown = refusal_text(language(request), refused)
            if refused.code == "code_wrong":
                return _code_page(request, msisdn, error=shown, status=403)
            return _number_page(request, typed=msisdn, error=shown, status=403)
        response = redirect(f"{PREFIX}/")
        cookie = _session_cookie(rt, msisdn, opened.token)
        set_cookie(request, response, SESSION_COOKIE, cookie, PREFIX)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
        return response

    @my.post("/cancel", response_class=HTMLResponse)
    def confirm(
        request: Request,
        customer: CheckedCustomer,
        ids: Ids = None,
        every: Annotated[bool, Form()] = False,
    ) -> Response:
        """The confirmation step: the chosen services named, nothing cancelled yet."""
        try:
            if every:
                chosen = held_services(_uow(request), rt.clock(), customer)
            else:
                chosen = chosen_services(_uow(request), rt.clock(), customer, _as_ids(ids))
        except Refused as refused:
            return _services_page(request, customer, refusal_text(language(request), refused), 400)
        return page(
            request,
            "my_confirm.html",
            prefix=PREFIX,
            customer=customer,
            chosen=[_shown(request, h) for h in chosen],
        )

    @my.post("/cancel/confirmed", response_class=HTMLResponse)
    def cancel(request: Request, customer: CheckedCustomer, ids: Ids = None) -> Response:
        try:
            done = cancel_services(
                _uow(request), rt.clock(), rt.deployment, customer, _as_ids(ids)
            )
        except Refused as refused:
            return _services_page(request, customer, refusal_text(language(request), refused), 400)
        return page(request, "my_done.html", prefix=PREFIX, customer=customer, done=done)

    @my.post("/logout")
    def logout(request: Request, _: CheckedCustomer) -> Response:
        token = request.cookies[SESSION_COOKIE].rpartition(".")[2]
        log_out_customer(_uow(request), rt.clock(), token)
        response = redirect(f"{PREFIX}/")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @my.get("/lang")
    def switch_language(request: Request, to: str = "zh", next: str = f"{PREFIX}/") -> Response:
        return language_switch(request, to, next, PREFIX)

    return my


def _as_ids(values: list[str] | None) -> list[int]:
    """Chosen subscription ids; anything else is a choice not on the list."""
    return [int(v) if v.isdigit() and len(v) < 19 else -1 for v in values or []]


def _login_csrf_ok(request: Request, presented: str) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    return expected is not None and csrf_matches(expected, presented)


def _shown(request: Request, held: HeldService) -> dict[str, object]:
    zh = language(request) == "zh"
    price = yuan(held.price_fen) if zh else yuan_en(held.price_fen)
    return {
        "id": held.subscription_id,
        "number": held.number,
        "service": held.service,
        "provider": held.provider,
        "price": price + text(language(request), "my_per_month"),
        "group": held.group_service,
    }


def _number_page(
    request: Request, *, typed: str = "", error: str | None = None, status: int = 200
) -> Response:
    return _before_login(request, "my_login.html", typed=typed, error=error, status=status)


def _code_page(
    request: Request,
    msisdn: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return _before_login(
        request, "my_code.html", msisdn=msisdn, notice=notice, error=error, status=status
    )


def _before_login(request: Request, template: str, *, status: int, **context: Any) -> Response:
    """A page before the login, with a fresh double-submit CSRF token."""
    csrf = new_login_csrf()
    response = page(request, template, prefix=PREFIX, csrf=csrf, status_code=status, **context)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf, PREFIX)
    return response


def _services_page(
    request: Request, customer: CustomerSession, error: str | None = None, status: int = 200
) -> HTMLResponse:
    rt = runtime(request)
    held = held_services(_uow(request), rt.clock(), customer)
    return page(
        request,
        "my_services.html",
        prefix=PREFIX,
        customer=customer,
        held=[_shown(request, h) for h in held],
        error=error,
        status_code=status,
    )
