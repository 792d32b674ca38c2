"""RFC 9457 problem details: every error the API returns has this one shape.

Every refusal is a ``Refused`` with a stable ``code``; this module is the one place the
API turns one into a status and a problem type, so a new refusal needs a line in
``_STATUS`` at most (an unlisted one is a 409: the request was understood, the state of
things refused it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from vasguard.channels.http.auth import NotAllowed, NotAuthenticated
from vasguard.domain.refusals import Refused, TryLater

PROBLEM_BASE = "https://vasguard.example/problems/"
_PROBLEM_JSON = "application/problem+json"

_STATUS = {
    "unknown_service": 404,
    "unknown_subscriber": 404,
    "unknown_plan": 404,
    "unknown_ticket": 404,
    "unknown_charge": 404,
    "unknown_bill_run": 404,
    "unknown_subscription": 404,
    "not_your_service": 403,
    "invalid_input": 422,
    "invalid_msisdn": 422,
    "amount_not_positive": 422,
    "amount_too_large": 422,
    "idempotency_key_reused": 422,
    "subscription_needed": 409,
    "schema_mismatch": 503,
    "subscriber_moving": 503,
}


def problem_body(status: int, kind: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return body


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = problem_body(status, kind, title, detail, **extra)
    return JSONResponse(body, status_code=status, media_type=_PROBLEM_JSON)


def refusal_body(refused: Refused) -> dict[str, Any]:
    """A refusal as a problem: its code gives the type and the status, its text the detail."""
    status = _STATUS.get(refused.code, 409)
    title = refused.code.replace("_", " ").capitalize()
    extra = {"retry_after_seconds": refused.retry_after} if isinstance(refused, TryLater) else {}
    return problem_body(status, refused.code.replace("_", "-"), title, refused.detail, **extra)


def mo_problem(failed: Exception) -> dict[str, Any]:
    """Why an MO was refused, or that it was stored but not handled.

    One shape for the single-MO answers and for each MO of a batch.
    """
    if isinstance(failed, Refused):
        return refusal_body(failed)
    return problem_body(
        500,
        "mo-not-handled",
        "The MO is stored but was not handled",
        "send it again with the same id to have it handled",
    )


MAX_ERRORS_SHOWN = 20


def _shown(text: object, limit: int) -> str:
    """``text`` as a problem may quote it: at most ``limit`` characters, and encodable
    (a lone surrogate from a JSON ``\\ud800`` would fail the response itself)."""
    shown = str(text)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown.encode("utf-8", "replace").decode("utf-8")


def _errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Where and what, never the value: a 10 MB field is not echoed back, and at most
    ``MAX_ERRORS_SHOWN`` errors are listed (a key in the body can be any size too)."""
    return [
        {
            "location": _shown(".".join(_shown(p, 64) for p in e["loc"]), 200),
            "message": _shown(e["msg"], 200),
        }
        for e in exc.errors()[:MAX_ERRORS_SHOWN]
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_payload(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _errors(exc)
        more = len(exc.errors()) - len(errors)
        return problem(
            422,
            "invalid-payload",
            "The request is not valid",
            "fix the fields listed in 'errors' and send it again"
            + (f" ({more} more errors not listed)" if more else ""),
            errors=errors,
        )

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(_: Request, exc: NotAuthenticated) -> JSONResponse:
        response = problem(
            401,
            "not-authenticated",
            "An API key is needed",
            "send a valid, unrevoked key as `Authorization: Bearer vg_…`"
            " (`vasguard keys create` makes one)",
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(NotAllowed)
    async def not_allowed(_: Request, exc: NotAllowed) -> JSONResponse:
        return problem(403, "not-allowed", "This key may not do this", str(exc))

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        body = refusal_body(exc)
        response = JSONResponse(body, status_code=body["status"], media_type=_PROBLEM_JSON)
        if isinstance(exc, TryLater):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        response = problem(exc.status_code, "http-error", str(exc.detail), str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Allow: every method of the path, not one route's
            response.headers["Allow"] = ", ".join(_methods_of(request))
        return response


def _methods_of(request: Request) -> list[str]:
    """The methods the app answers at the request's path, over all its routes (those of
    included routers too)."""
    methods: set[str] = set()
    routes = list(request.app.router.routes)
    while routes:
        route = routes.pop()
        included = getattr(route, "original_router", None)
        if included is not None:
            routes.extend(included.routes)
            continue
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)
