"""Limits on what one caller can make the API do: body size, and requests per key.

**Body size.** ``BodyLimit`` is pure ASGI, outside everything else, so a body too large is
refused before any of it is parsed: a ``Content-Length`` over the limit is answered 413
without reading a byte of the body; a body without one (chunked, streamed) is counted as
it arrives and refused the moment it passes the limit, the rest left unread. Whatever the
app makes of the interrupted body, the answer is the 413.

**Rate.** One token bucket per API key, in this process: a key may make ``rate`` requests
a second on average and bursts of ``BURST_SECONDS`` seconds' worth; over that it is
answered 429 with ``Retry-After``, before the route does anything. Partner keys have a
rate of their own (a partner's order feed is the traffic most likely to flood), every
other role the general one. Time comes from the clock handed in, never read here. The
buckets are per process: N processes behind a balancer allow N times the rate.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vasguard.channels.http import problems
from vasguard.domain.access import Principal, Role
from vasguard.domain.clock import Clock

BURST_SECONDS = 10.0
"""A bucket holds this many seconds of its rate: a client may catch up after a pause."""


def body_too_large(limit: int) -> JSONResponse:
    return problems.problem(
        413,
        "body-too-large",
        "The request body is too large",
        f"a request body may hold at most {limit} bytes; send less at a time "
        "(a batch of fewer MOs, a shorter text)",
        max_body_bytes=limit,
    )


class _TooLarge(Exception):
    """Raised into the app from ``receive`` when the body passes the limit."""


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with a 413 problem, reading no more."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            await body_too_large(self.limit)(scope, receive, send)
            return
        received = 0
        overflowed = False
        started = False

        async def counted() -> Message:
            nonlocal received, overflowed
            if overflowed:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    overflowed = True
                    raise _TooLarge
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if overflowed:
                if not started:
                    started = True
                    await body_too_large(self.limit)(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, answer)
        except _TooLarge:
            if not started:
                await body_too_large(self.limit)(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    """The request's ``Content-Length``, 0 when absent; one that is not a number is no
    promise of anything, so the body is counted instead."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class RateLimited(Exception):
    def __init__(self, principal: Principal, rate: float, retry_after: int) -> None:
        super().__init__(principal.name)
        self.principal = principal
        self.rate = rate
        self.retry_after = retry_after


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: datetime


class RateLimit:
    """Token buckets by API key: ``take`` spends one token of the principal's key, or
    raises ``RateLimited`` with the whole seconds until one is there."""

    def __init__(self, clock: Clock, *, rate: float, partner_rate: float) -> None:
        self._clock = clock
        self._rates = {Role.PARTNER: partner_rate}
        self._rate = rate
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()  # sync routes authenticate in worker threads

    def rate_of(self, principal: Principal) -> float:
        return self._rates.get(principal.role, self._rate)

    def take(self, principal: Principal) -> None:
        rate = self.rate_of(principal)
        capacity = max(1.0, rate * BURST_SECONDS)
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.setdefault(principal.key_row_id, _Bucket(capacity, now))
            # A clock set back refills nothing rather than draining the bucket.
            elapsed = max(0.0, (now - bucket.at).total_seconds())
            bucket.tokens = min(capacity, bucket.tokens + elapsed * rate)
            bucket.at = now
            if bucket.tokens < 1:
                raise RateLimited(principal, rate, math.ceil((1 - bucket.tokens) / rate))
            bucket.tokens -= 1


def install(
    app: FastAPI, clock: Clock, *, max_body_bytes: int, rate: float, partner_rate: float
) -> None:
    """The body limit around the app, and the rate limit ``auth.principal_of`` applies."""
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.state.rate_limit = RateLimit(clock, rate=rate, partner_rate=partner_rate)

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = problems.problem(
            429,
            "rate-limited",
            "Too many requests for this key",
            f"key {exc.principal.name!r} may make {exc.rate:g} requests a second "
            f"(bursts of {BURST_SECONDS:g} seconds' worth); retry after {exc.retry_after} s",
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
