"""One TCP connection to the SMSC, from bind_transceiver to close.

A link owns three tasks:

* the reader, which cuts and decodes every inbound PDU and dispatches it at once:
  responses complete the request awaiting them, enquire_link and unbind are answered,
  deliver_sm are queued. It never waits on the application, so a slow commit cannot
  delay an enquire_link_resp or a submit_sm_resp;
* the deliverer, which hands the queued deliver_sm to the application handler in
  batches (everything already received, up to ``deliver_batch``) and sends each
  deliver_sm_resp **only after the handler returned**, with the status it chose: an MO
  is durable before the SMSC is told it arrived. A handler that raises gets every MO of
  its batch answered ESME_RX_T_APPN, so the SMSC redelivers;
* the keepalive, which sends enquire_link when nothing was received for
  ``enquire_link_interval`` and drops the link when its response does not come in
  ``response_timeout``.

When the link closes, requests still waiting fail with ``ConnectionLost`` and
deliver_sm not yet handed to the handler are dropped unanswered (the SMSC redelivers
them); a batch already in the handler is allowed to finish, because cancelling a commit
half-way helps no one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from vasguard.channels.smpp.codec import MalformedPdu, decode, encode
from vasguard.channels.smpp.config import SmppConfig
from vasguard.channels.smpp.errors import (
    BindRefused,
    ConnectionLost,
    InvalidMessage,
    OutcomeUnknown,
    ResponseTimeout,
)
from vasguard.channels.smpp.framing import FrameError, FrameReader
from vasguard.channels.smpp.pdus import (
    Bare,
    BindTransceiver,
    Command,
    DeliverSm,
    Pdu,
    command_of,
    status_of,
)
from vasguard.channels.smpp.status import Status, status_name

log = logging.getLogger("vasguard.channels.smpp")

DeliverHandler = Callable[[Sequence[DeliverSm]], Awaitable[Sequence[int]]]
"""Takes deliver_sm (MOs and receipts) that arrived together and returns one
command_status per PDU, in order: ESME_ROK once each is committed, ESME_RX_T_APPN to have
the SMSC redeliver it later. One bind calls it for one batch at a time; the binds of a
pool call it independently, so calls from different binds may overlap."""

_NOT_ANSWERED = frozenset({Command.ALERT_NOTIFICATION, Command.OUTBIND})
_MAX_STATUS = 0xFFFFFFFF


class Link:
    """A connected socket speaking SMPP; ``bind`` first, then ``request`` freely."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        config: SmppConfig,
        handler: DeliverHandler,
        next_sequence: Callable[[], int],
        name: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._config = config
        self._handler = handler
        self._next_sequence = next_sequence
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._outbox: list[bytes] = []
        self._deliveries: asyncio.Queue[DeliverSm | None] = asyncio.Queue()
        self._handling = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # deliver_sm turned away since the last warning, and when that was (monotonic).
        self._turned_away = 0
        self._warned_at = float("-inf")
        self._closed = asyncio.Event()
        self.close_reason = ""
        self.last_received = self._loop.time()
        self._reader_task = self._loop.create_task(self._read_loop(), name=f"{name}-reader")
        self._deliverer: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _extra(self, **fields: Any) -> dict[str, Any]:
        return {"smpp_bind": self._name, "smpp_peer": self._config.peer, **fields}

    # --- requests -----------------------------------------------------------------------

    async def bind(self) -> None:
        """bind_transceiver; ``BindRefused`` with the SMSC's status if it says no. On
        success the deliverer and keepalive start."""
        config = self._config
        response = await self.request(
            BindTransceiver(
                self._next_sequence(), config.system_id, config.password, config.system_type
            )
        )
        status = status_of(response)
        if status != Status.ESME_ROK:
            raise BindRefused(status)
        self._deliverer = self._loop.create_task(self._deliver_loop(), name=f"{self._name}-mo")
        self._keeper = self._loop.create_task(self._keepalive(), name=f"{self._name}-ping")

    async def request(self, pdu: Pdu) -> Pdu:
        """Send a request and wait for its response (which may be a generic_nack).
        ``ResponseTimeout`` / ``ConnectionLost`` when none comes."""
        if self.closed:
            raise ConnectionLost(f"connection closed: {self.close_reason}")
        try:
            data = encode(pdu)
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from exc
        sequence = pdu.sequence
        future: asyncio.Future[Pdu] = self._loop.create_future()
        self._pending[sequence] = future
        timer = self._loop.call_later(
            self._config.response_timeout, self._expire, sequence, future, command_of(pdu)
        )
        try:
            self._write(data)
            await self._writer.drain()
            return await future
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(f"write failed: {exc}") from exc
        finally:
            timer.cancel()
            if self._pending.get(sequence) is future:
                del self._pending[sequence]

    def _expire(self, sequence: int, future: asyncio.Future[Pdu], command: Command) -> None:
        if not future.done():
            future.set_exception(
                ResponseTimeout(
                    f"no response to {command.label} (sequence {sequence}) "
                    f"within {self._config.response_timeout:g} s"
                )
            )

    def _send(self, pdu: Pdu) -> None:
        """Write a response; on a closing connection it is dropped (the peer is gone)."""
        self._write(encode(pdu))

    def _write(self, data: bytes) -> None:
        """Queue PDUs and hand them to the socket once per event-loop turn: the submits
        and responses of one turn leave in one send() instead of one each (the system
        call, not the codec, was most of a submit's CPU)."""
        if self._writer.is_closing():
            return
        self._outbox.append(data)
        if len(self._outbox) == 1:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._outbox and not self._writer.is_closing():
            self._writer.write(b"".join(self._outbox))
        self._outbox.clear()

    # --- reader -------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "closed by the SMSC"
        reader = FrameReader(self._reader, self._config.max_pdu_length)
        try:
            while True:
                try:
                    frames = await reader.frames()
                except FrameError as exc:
                    log.error(
                        "SMPP %s: %s; answering generic_nack and dropping the connection",
                        self._name,
                        exc,
                        extra=self._extra(smpp_status="ESME_RINVCMDLEN"),
                    )
                    self._send(
                        Bare(Command.GENERIC_NACK, exc.header.sequence, Status.ESME_RINVCMDLEN)
                    )
                    reason = "unframeable PDU from the SMSC"
                    return
                self.last_received = self._loop.time()
                for frame in frames:
                    try:
                        pdu = decode(frame)
                    except MalformedPdu as exc:
                        self._malformed(exc, frame.data)
                        continue
                    if self._dispatch(pdu):
                        reason = "unbound by the SMSC"
                        return
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            if not isinstance(exc, asyncio.IncompleteReadError):
                reason = f"connection error: {exc}"
        except asyncio.CancelledError:
            reason = self.close_reason or "cancelled"
            raise
        except Exception:
            log.exception("SMPP %s: reader failed", self._name, extra=self._extra())
            reason = "internal error in the SMPP reader"
        finally:
            self.shutdown(reason)

    def _malformed(self, exc: MalformedPdu, data: bytes) -> None:
        answer = exc.answer()
        log.warning(
            "SMPP %s: %s; %s",
            self._name,
            exc,
            f"answering {answer.command.label}" if answer else "ignoring it",
            extra=self._extra(smpp_status=status_name(exc.status), smpp_pdu=data[:64].hex()),
        )
        if answer is not None:
            self._send(answer)
            return
        future = self._pending.pop(exc.header.sequence, None)
        if future is not None and not future.done():
            future.set_exception(OutcomeUnknown(f"unreadable response: {exc.reason}"))

    def _dispatch(self, pdu: Pdu) -> bool:
        """Act on one inbound PDU; True when the SMSC unbound us."""
        command = command_of(pdu)
        if command.is_response:
            future = self._pending.pop(pdu.sequence, None)
            if future is not None and not future.done():
                future.set_result(pdu)
            else:
                log.info(
                    "SMPP %s: %s for sequence %d that nobody awaits (late after a timeout?)",
                    self._name,
                    command.label,
                    pdu.sequence,
                    extra=self._extra(smpp_command=command.label),
                )
            return False
        if isinstance(pdu, DeliverSm):
            if pdu.ignored_tlvs:
                log.info(
                    "SMPP %s: deliver_sm %d carries optional parameters %s the codec cannot "
                    "read; ignoring them",
                    self._name,
                    pdu.sequence,
                    ", ".join(f"0x{tag:04X}" for tag in pdu.ignored_tlvs),
                    extra=self._extra(smpp_ignored_tlvs=list(pdu.ignored_tlvs)),
                )
            self._enqueue(pdu)
            return False
        match command:
            case Command.ENQUIRE_LINK:
                self._send(Bare(Command.ENQUIRE_LINK_RESP, pdu.sequence))
            case Command.UNBIND:
                log.warning(
                    "SMPP %s: the SMSC unbound; answering unbind_resp and reconnecting",
                    self._name,
                    extra=self._extra(),
                )
                self._send(Bare(Command.UNBIND_RESP, pdu.sequence))
                return True
            case _ if command in _NOT_ANSWERED:
                log.info("SMPP %s: ignoring %s", self._name, command.label, extra=self._extra())
            case _:
                log.warning(
                    "SMPP %s: %s is not supported; answering generic_nack ESME_RINVCMDID",
                    self._name,
                    command.label,
                    extra=self._extra(smpp_command=command.label),
                )
                self._send(Bare(Command.GENERIC_NACK, pdu.sequence, Status.ESME_RINVCMDID))
        return False

    def _enqueue(self, pdu: DeliverSm) -> None:
        if self._deliveries.qsize() >= self._config.deliver_backlog:
            self._send(Bare(Command.DELIVER_SM_RESP, pdu.sequence, Status.ESME_RX_T_APPN))
            self._turned_away += 1
            now = time.monotonic()
            # One line a second at most: an SMSC redelivering a flood must not flood the log.
            if now - self._warned_at >= 1.0:
                log.warning(
                    "SMPP %s: %d deliver_sm await the handler; answered %d with ESME_RX_T_APPN",
                    self._name,
                    self._deliveries.qsize(),
                    self._turned_away,
                    extra=self._extra(smpp_status="ESME_RX_T_APPN", turned_away=self._turned_away),
                )
                self._turned_away, self._warned_at = 0, now
            return
        self._idle.clear()
        self._deliveries.put_nowait(pdu)

    # --- deliverer ----------------------------------------------------------------------

    async def _deliver_loop(self) -> None:
        queue = self._deliveries
        while True:
            first = await queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._config.deliver_batch and not queue.empty():
                item = queue.get_nowait()
                if item is None:
                    queue.put_nowait(None)
                    break
                batch.append(item)
            self._handling = len(batch)
            statuses = await self._handle(batch)
            self._handling = 0
            if self.closed:
                log.warning(
                    "SMPP %s: the connection closed while %d deliver_sm were handled; their "
                    "deliver_sm_resp cannot be sent, so the SMSC will redeliver them",
                    self._name,
                    len(batch),
                    extra=self._extra(smpp_batch=len(batch)),
                )
            for pdu, status in zip(batch, statuses, strict=True):
                self._send(Bare(Command.DELIVER_SM_RESP, pdu.sequence, status))
            if queue.empty() or self.closed:
                self._idle.set()

    async def _handle(self, batch: list[DeliverSm]) -> Sequence[int]:
        temporary = [Status.ESME_RX_T_APPN] * len(batch)
        try:
            statuses = await self._handler(batch)
        except Exception:
            log.exception(
                "SMPP %s: the deliver_sm handler failed on %d PDUs; answering ESME_RX_T_APPN "
                "so the SMSC redelivers them",
                self._name,
                len(batch),
                extra=self._extra(smpp_batch=len(batch)),
            )
            return temporary
        if len(statuses) != len(batch) or not all(
            isinstance(status, int) and 0 <= status <= _MAX_STATUS for status in statuses
        ):
            log.error(
                "SMPP %s: the deliver_sm handler returned %r for %d PDUs, not one "
                "command_status each; answering ESME_RX_T_APPN",
                self._name,
                statuses,
                len(batch),
                extra=self._extra(smpp_batch=len(batch)),
            )
            return temporary
        return statuses

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every deliver_sm received so far was handled and answered."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # --- keepalive ----------------------------------------------------------------------

    async def _keepalive(self) -> None:
        interval = self._config.enquire_link_interval
        while not self.closed:
            idle = self._loop.time() - self.last_received
            if idle < interval:
                await asyncio.sleep(interval - idle)
                continue
            try:
                await self.request(Bare(Command.ENQUIRE_LINK, self._next_sequence()))
            except ResponseTimeout:
                log.warning(
                    "SMPP %s: no enquire_link_resp within %g s; dropping the connection",
                    self._name,
                    self._config.response_timeout,
                    extra=self._extra(),
                )
                self.shutdown("missed enquire_link_resp")
                return
            except ConnectionLost:
                return

    # --- closing ------------------------------------------------------------------------

    async def pending_drained(self, timeout: float) -> bool:
        """Wait until no request awaits its response (graceful close)."""
        deadline = self._loop.time() + timeout
        while self._pending and not self.closed and self._loop.time() < deadline:
            await asyncio.sleep(0.01)
        return not self._pending

    def shutdown(self, reason: str) -> None:
        """Close the socket and fail what waits on it. Idempotent."""
        if self.closed:
            return
        self.close_reason = reason
        self._closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"connection closed: {reason}"))
        self._pending.clear()
        dropped = 0
        while not self._deliveries.empty():
            if self._deliveries.get_nowait() is not None:
                dropped += 1
        if dropped:
            log.warning(
                "SMPP %s: %d deliver_sm left unanswered on close; the SMSC will redeliver them",
                self._name,
                dropped,
                extra=self._extra(smpp_dropped=dropped),
            )
        self._deliveries.put_nowait(None)
        if self._handling == 0:
            self._idle.set()
        self._flush()  # a generic_nack or unbind_resp queued just before must still go out
        self._writer.close()
        current = asyncio.current_task()
        for task in (self._reader_task, self._keeper):
            if task is not None and task is not current:
                task.cancel()

    async def wait_closed(self) -> str:
        await self._closed.wait()
        return self.close_reason

    async def finish(self, handler_timeout: float) -> None:
        """After ``shutdown``: wait for the link's tasks to end. A batch still in the
        handler gets ``handler_timeout`` seconds to return; after that it is cancelled
        (its MOs were never answered, so the SMSC redelivers them)."""
        current = asyncio.current_task()
        tasks = [self._reader_task, self._keeper]
        await asyncio.gather(
            *(task for task in tasks if task is not None and task is not current),
            return_exceptions=True,
        )
        deliverer = self._deliverer
        if deliverer is not None and deliverer is not current:
            done, _ = await asyncio.wait([deliverer], timeout=handler_timeout)
            if not done:
                log.error(
                    "SMPP %s: the deliver_sm handler did not return within %g s of the "
                    "connection closing; cancelling it",
                    self._name,
                    handler_timeout,
                    extra=self._extra(),
                )
                deliverer.cancel()
                await asyncio.gather(deliverer, return_exceptions=True)
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
