"""RFC 9457 problem details: every error the API returns has this one shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.msisdn import InvalidMsisdn
from vasguard.domain.ordering import OrderRefused, Refusal
from vasguard.domain.plans import PlanRefusal, PlanRefused
from vasguard.services.resolutions import ResolutionRefusal, ResolutionRefused

PROBLEM_BASE = "https://vasguard.example/problems/"
_PROBLEM_JSON = "application/problem+json"

_REFUSAL_STATUS = {Refusal.UNKNOWN_SERVICE: 404}
_PLAN_STATUS = {PlanRefusal.UNKNOWN_PLAN: 404, PlanRefusal.ALREADY_ON_PLAN: 409}
_RESOLUTION_STATUS = {
    ResolutionRefusal.UNKNOWN_TICKET: 404,
    ResolutionRefusal.UNKNOWN_CHARGE: 404,
    ResolutionRefusal.ALREADY_RESOLVED: 409,
    ResolutionRefusal.NOTHING_CHARGED: 409,
    ResolutionRefusal.AMOUNT_NOT_POSITIVE: 422,
    ResolutionRefusal.AMOUNT_TOO_LARGE: 422,
}


def problem_body(status: int, kind: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return body


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = problem_body(status, kind, title, detail, **extra)
    return JSONResponse(body, status_code=status, media_type=_PROBLEM_JSON)


def mo_problem(failed: Exception) -> dict[str, Any]:
    """What is wrong with an MO's number, or that it was stored but not handled.

    One shape for the single-MO answers and for each MO of a batch.
    """
    if isinstance(failed, UnknownSubscriber):
        return problem_body(404, "unknown-subscriber", "Unknown subscriber", str(failed))
    if isinstance(failed, InvalidMsisdn):
        return problem_body(422, "invalid-msisdn", "Not a mobile number", str(failed))
    return problem_body(
        500,
        "mo-not-handled",
        "The MO is stored but was not handled",
        "send it again with the same id to have it handled",
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_payload(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-payload",
            "The request is not valid",
            "fix the fields listed in 'errors' and send it again",
            errors=errors,
        )

    @app.exception_handler(OrderRefused)
    async def refused(_: Request, exc: OrderRefused) -> JSONResponse:
        status = _REFUSAL_STATUS.get(exc.refusal, 409)
        title = exc.refusal.value.replace("_", " ").capitalize()
        return problem(status, exc.refusal.value.replace("_", "-"), title, exc.detail)

    @app.exception_handler(PlanRefused)
    async def plan_refused(_: Request, exc: PlanRefused) -> JSONResponse:
        kind = exc.refusal.value.replace("_", "-")
        return problem(_PLAN_STATUS[exc.refusal], kind, "Plan order refused", exc.detail)

    @app.exception_handler(ResolutionRefused)
    async def resolution_refused(_: Request, exc: ResolutionRefused) -> JSONResponse:
        status = _RESOLUTION_STATUS[exc.refusal]
        kind = exc.refusal.value.replace("_", "-")
        return problem(status, kind, "Resolution or refund refused", exc.detail)

    @app.exception_handler(UnknownSubscriber)
    @app.exception_handler(InvalidMsisdn)
    async def refused_number(_: Request, exc: Exception) -> JSONResponse:
        body = mo_problem(exc)
        return JSONResponse(body, status_code=body["status"], media_type=_PROBLEM_JSON)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, "http-error", str(exc.detail), str(exc.detail))
