"""An ESME transceiver bind that stays up: connect, bind, serve, and after any loss
(a drop, a refused bind, a missed enquire_link_resp, an unbind from the SMSC) back off
with jitter and start again, until ``close``.

What the session guarantees its caller:

* ``submit`` returns the SMSC's message id or raises one of ``errors``' types, which say
  whether the part may be sent again. It never waits forever: a missing response fails
  after ``response_timeout``; with no bind up it fails at once with ``NotBound``.
* At most ``window`` submit_sm await their response at any time, and at most
  ``submit_rate`` leave per second; a submit waits for a slot, then for a token.
* deliver_sm are answered only after the handler returned (see ``link``).
* Nothing it does crashes the process: every failure is a log line and a reconnect.

Sequence numbers run 1..0x7FFFFFFF across reconnects and wrap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from vasguard.channels.smpp.backoff import Backoff
from vasguard.channels.smpp.config import SmppConfig
from vasguard.channels.smpp.errors import (
    BindRefused,
    NotBound,
    OutcomeUnknown,
    SubmitRefused,
)
from vasguard.channels.smpp.link import DeliverHandler, Link
from vasguard.channels.smpp.pdus import (
    Bare,
    Command,
    ShortMessage,
    SubmitSm,
    SubmitSmResp,
    command_of,
    next_sequence,
    status_of,
)
from vasguard.channels.smpp.rate import TokenBucket
from vasguard.channels.smpp.status import Status, describe, status_name

log = logging.getLogger("vasguard.channels.smpp")


@dataclass(frozen=True, slots=True)
class _Failure:
    """Why a connect-and-bind attempt gave no link: one log line and its fields."""

    message: str
    fields: dict[str, Any] = field(default_factory=dict)


class EsmeSession:
    """One bind_transceiver to the SMSC in ``config``; ``start`` it, then ``submit``."""

    def __init__(
        self,
        config: SmppConfig,
        handler: DeliverHandler,
        *,
        name: str = "bind-1",
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._config = config
        self._handler = handler
        self._backoff = Backoff(config.reconnect_min, config.reconnect_max, rng)
        self._window = asyncio.Semaphore(config.window)
        self._bucket = (
            TokenBucket(config.submit_rate, config.submit_burst)
            if config.submit_rate is not None
            else None
        )
        self._sequence = 0
        self._outstanding = 0
        self._link: Link | None = None
        self._bound = asyncio.Event()
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.binds = 0
        """How many times this session has bound (reconnects show as binds > 1)."""

    async def __aenter__(self) -> EsmeSession:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def is_bound(self) -> bool:
        return self._link is not None and not self._link.closed and not self._stop.is_set()

    @property
    def outstanding(self) -> int:
        """Submits sent or waiting for a window slot, not yet answered."""
        return self._outstanding

    def _extra(self, **fields: Any) -> dict[str, Any]:
        return {"smpp_bind": self.name, "smpp_peer": self._config.peer, **fields}

    def _next_sequence(self) -> int:
        self._sequence = next_sequence(self._sequence)
        return self._sequence

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; ``wait_bound`` to know when it is up."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"smpp-{self.name}"
            )

    async def wait_bound(self, timeout: float) -> None:
        """Return once bound; ``TimeoutError`` if not within ``timeout`` seconds."""
        await asyncio.wait_for(self._bound.wait(), timeout)

    async def close(self) -> None:
        """Stop taking submits, let in-flight submits and MOs finish (each bounded by
        ``response_timeout``), unbind, close the socket. Safe to call twice."""
        self._stop.set()
        if self._runner is not None:
            await self._runner

    async def _unbind(self, link: Link) -> None:
        timeout = self._config.response_timeout
        await link.pending_drained(timeout)
        await link.wait_idle(timeout)
        try:
            unbind = await link.request(Bare(Command.UNBIND, self._next_sequence()))
            if status_of(unbind) != Status.ESME_ROK:
                log.info("SMPP %s: unbind answered %s", self.name, describe(status_of(unbind)))
        except OutcomeUnknown as exc:
            log.info("SMPP %s: no unbind_resp (%s)", self.name, exc, extra=self._extra())
        await link.wait_idle(timeout)
        link.shutdown("closed by the platform")

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = await self._attempt()
            except Exception:
                delay = self._backoff.next_delay()
                log.exception(
                    "SMPP %s: unexpected failure; retrying in %.2f s",
                    self.name,
                    delay,
                    extra=self._extra(smpp_retry_in=round(delay, 3)),
                )
            if delay is None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _attempt(self) -> float | None:
        """Connect, bind and serve until the link closes; the back-off delay before the
        next attempt, or None once the session is closing."""
        link = await self._connect()
        if not isinstance(link, Link):
            delay = self._backoff.next_delay()
            log.error(
                "SMPP %s to %s: %s; retrying in %.2f s",
                self.name,
                self._config.peer,
                link.message,
                delay,
                extra=self._extra(
                    smpp_reason=link.message, smpp_retry_in=round(delay, 3), **link.fields
                ),
            )
            return delay
        self._backoff.reset()
        self.binds += 1
        self._link = link
        self._bound.set()
        log.info(
            "SMPP %s bound to %s as %s",
            self.name,
            self._config.peer,
            self._config.system_id,
            extra=self._extra(smpp_system_id=self._config.system_id),
        )
        try:
            closed = asyncio.ensure_future(link.wait_closed())
            stopping = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not link.closed:
                await self._unbind(link)
            reason = await closed
        finally:
            self._bound.clear()
            link.shutdown("session ended")
            await link.finish(self._config.response_timeout)
            self._link = None
        if self._stop.is_set():
            log.info("SMPP %s unbound and closed", self.name, extra=self._extra())
            return None
        delay = self._backoff.next_delay()
        log.warning(
            "SMPP %s lost %s (%s); reconnecting in %.2f s",
            self.name,
            self._config.peer,
            reason,
            delay,
            extra=self._extra(smpp_reason=reason, smpp_retry_in=round(delay, 3)),
        )
        return delay

    async def _connect(self) -> Link | _Failure:
        """A bound link, or why there is none."""
        config = self._config
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(config.host, config.port), config.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            return _Failure(f"cannot connect: {exc or type(exc).__name__}")
        link = Link(reader, writer, config, self._handler, self._next_sequence, self.name)
        try:
            await link.bind()
        except BindRefused as exc:
            failure = _Failure(
                f"bind refused as {config.system_id}: {describe(exc.status)}",
                {"smpp_status": status_name(exc.status), "smpp_system_id": config.system_id},
            )
        except OutcomeUnknown as exc:
            failure = _Failure(f"bind failed: {exc}")
        else:
            return link
        link.shutdown(failure.message)
        await link.finish(self._config.response_timeout)
        return failure

    # --- submit -------------------------------------------------------------------------

    async def submit(self, message: ShortMessage) -> str:
        """Send one submit_sm; the SMSC's message id from its submit_sm_resp.

        Raises ``NotBound`` (nothing sent), ``SubmitRefused`` (with the status and
        whether it is retryable), ``ResponseTimeout`` / ``ConnectionLost`` (sent, outcome
        unknown) or ``InvalidMessage``.
        """
        if not self.is_bound:
            raise NotBound(f"SMPP {self.name} is not bound to {self._config.peer}")
        self._outstanding += 1
        try:
            async with self._window:
                if self._bucket is not None:
                    await self._bucket.acquire()
                link = self._link
                if link is None or link.closed or self._stop.is_set():
                    raise NotBound(f"SMPP {self.name} lost its bind before the submit was sent")
                response = await link.request(SubmitSm(self._next_sequence(), message))
        finally:
            self._outstanding -= 1
        status = status_of(response)
        if isinstance(response, SubmitSmResp) and status == Status.ESME_ROK:
            return response.message_id
        raise SubmitRefused(status or Status.ESME_RSYSERR, command_of(response))
