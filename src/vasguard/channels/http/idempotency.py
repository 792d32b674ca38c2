"""``Idempotency-Key`` on the API's creating POSTs: a retried order or refund is done once.

A route opts in with ``dependencies=[IDEMPOTENT]``. A request without the header is done
as ever. With one, the dependency claims the key for the caller's API key before the
route runs (``services.idempotency``): a retry of a request that succeeded is answered
with the first answer, byte for byte, marked ``Idempotent-Replayed: true``; a retry while
the first is being done is a 409 and the same key on a different request a 422, both
doing nothing. ``KeepAnswers`` (pure ASGI, installed by ``install``) holds the claimed
request's response until its answer is kept, so no retry can arrive between the caller
hearing it and the store knowing it.

"The same request" is the same path and the same body bytes: a client retries by
sending again what it sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vasguard.bootstrap import Runtime
from vasguard.channels.http.auth import principal_of, runtime_of
from vasguard.channels.http.fields import Line
from vasguard.domain.access import Principal
from vasguard.domain.idempotency import KeptAnswer
from vasguard.services.idempotency import claim, keep, release

HEADER = "Idempotency-Key"
_SLOT = "vasguard.idempotency"


@dataclass(slots=True)
class _Claim:
    rt: Runtime
    api_key_id: int
    key: str


@dataclass(slots=True)
class _Slot:
    """Where the dependency leaves its claim for ``KeepAnswers``, in the request's scope."""

    claim: _Claim | None = None


class Replayed(Exception):
    def __init__(self, answer: KeptAnswer) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def idempotent(
    request: Request,
    principal: Annotated[Principal, Depends(principal_of)],
    key: Annotated[
        Line | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=64,
            description="names this request: sent again with the same key, it is done "
            "once and the first answer is given again",
        ),
    ] = None,
) -> None:
    if key is None:
        return
    digest = hashlib.sha256(request.url.path.encode() + b"\n" + await request.body()).digest()
    rt = runtime_of(request)
    kept = await run_in_threadpool(
        lambda: claim(
            rt.uow(), rt.clock(), api_key_id=principal.key_row_id, key=key, request_sha256=digest
        )
    )
    if kept is not None:
        raise Replayed(kept)
    slot: _Slot = request.scope[_SLOT]
    slot.claim = _Claim(rt, principal.key_row_id, key)


IDEMPOTENT = Depends(idempotent)
"""For a creating route: ``@router.post(..., dependencies=[IDEMPOTENT])``."""


class KeepAnswers:
    """Keeps a claimed request's success for its retries before sending it; releases the
    claim of any other outcome (a refusal or a failure changed nothing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = scope[_SLOT] = _Slot()
        held: list[Message] = []

        async def hold(message: Message) -> None:
            if slot.claim is None:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                await _settle(slot.claim, held)
                slot.claim = None
                for m in held:
                    await send(m)

        try:
            await self.app(scope, receive, hold)
        except Exception:
            if slot.claim is not None:
                await _settle(slot.claim, [])
            raise


async def _settle(claimed: _Claim, response: list[Message]) -> None:
    rt, api_key_id, key = claimed.rt, claimed.api_key_id, claimed.key
    status = response[0]["status"] if response else 500
    if 200 <= status < 300:
        body = b"".join(m.get("body", b"") for m in response[1:]).decode()
        await run_in_threadpool(
            lambda: keep(
                rt.uow(),
                rt.clock(),
                api_key_id=api_key_id,
                key=key,
                status_code=status,
                response=body,
            )
        )
    else:
        await run_in_threadpool(lambda: release(rt.uow(), api_key_id=api_key_id, key=key))


def install(app: FastAPI) -> None:
    app.add_middleware(KeepAnswers)

    @app.exception_handler(Replayed)
    async def replayed(_: Request, exc: Replayed) -> Response:
        return Response(
            exc.answer.response,
            status_code=exc.answer.status_code,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
