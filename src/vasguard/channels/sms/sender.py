"""The sender loop: drains the outbox through an asynchronous transport.

It claims due parts (``services.outbox.claim``, in a thread) no more than the transport
can have in flight, submits each as its own task, and records outcomes as they come: a
recorder task settles whatever has arrived in one thread call (``services.outbox.settle``,
which stores the SMSC ids first), so an id waits for its commit only as long as the
previous commit takes, not for the slowest submit of its batch.

``stop``: no new claims; submits in flight finish (the transport bounds them); every
outcome is settled; parts claimed but not sent are released (``NotSent``). Claims are
left consistent: every part is queued, submitted, failed, or claimed by a submit whose
answer never came (due again after its lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from vasguard.channels.metrics import MTS, OUTBOX_DEPTH, SUBMIT_SECONDS
from vasguard.domain.clock import Clock
from vasguard.domain.mt_parts import (
    NotSent,
    Outgoing,
    Rejected,
    SubmitOutcome,
    Submitted,
    Throttled,
    Unknown,
)
from vasguard.services.outbox import DEFAULT_LEASE, claim, outbox_depth, settle
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger("vasguard.channels.sms")

Submit = Callable[[Outgoing], Awaitable[SubmitOutcome]]
_STATE = {
    Submitted: "submitted",
    Throttled: "throttled",
    Rejected: "failed",
    Unknown: "unknown",
    NotSent: "not_sent",
}


class OutboxSender:
    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        clock: Clock,
        submit: Submit,
        *,
        owner: str,
        capacity: Callable[[], int],
        interval: float = 0.05,
        lease: timedelta = DEFAULT_LEASE,
        depth_every: float = 5.0,
        depth: Callable[[int], None] = OUTBOX_DEPTH.set,
        whole: bool = False,
    ) -> None:
        """``whole``: MTs are claimed as one part each (``services.outbox.claim``)."""
        self._new_uow = new_uow
        self._clock = clock
        self._submit = submit
        self._owner = owner
        self._capacity = capacity
        self._interval = interval
        self._lease = lease
        self._depth_every = depth_every
        # Where the outbox's depth goes: the gauge, or a sum over several shards' senders.
        self._depth = depth
        self._whole = whole
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[SubmitOutcome | None] = asyncio.Queue()
        self._stopping = asyncio.Event()
        # Set by ``wake`` (and ``stop``): claim now rather than at the next poll.
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._recorder = loop.create_task(self._record(), name=f"{self._owner}-record")
        self._runner = loop.create_task(self._run(), name=f"{self._owner}-send")

    def wake(self) -> None:
        """MTs were just queued (an MO's replies): claim them now, not at the next poll.

        The poll stays, for notices that fall due later and for other processes' MTs.
        """
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._runner is not None:
            await self._runner
        self._outcomes.put_nowait(None)
        if self._recorder is not None:
            await self._recorder

    async def _run(self) -> None:
        next_depth = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_depth:
                    next_depth = time.monotonic() + self._depth_every
                    self._depth(await asyncio.to_thread(outbox_depth, self._new_uow(), self._clock))
                room = self._capacity() - len(self._in_flight)
                parts = []
                if room > 0:
                    parts = await asyncio.to_thread(
                        claim,
                        self._new_uow(),
                        self._clock,
                        self._owner,
                        limit=room,
                        lease=self._lease,
                        whole=self._whole,
                    )
                for part in parts:
                    task = asyncio.get_running_loop().create_task(self._one(part))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                if parts and len(parts) == room:
                    await self._some_room()
                    continue
            except Exception:
                log.exception("the sender failed to claim MT parts; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _some_room(self) -> None:
        """Until a submit in flight has finished (or the sender stops)."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)

    async def _one(self, part: Outgoing) -> None:
        if self._stopping.is_set():
            outcome: SubmitOutcome = NotSent(part)
        else:
            started = time.perf_counter()
            outcome = await self._submit(part)
            if isinstance(outcome, Submitted):
                SUBMIT_SECONDS.observe(time.perf_counter() - started)
        MTS.labels(state=_STATE[type(outcome)]).inc()
        self._outcomes.put_nowait(outcome)

    async def _record(self) -> None:
        done = False
        while not done:
            first = await self._outcomes.get()
            batch = [] if first is None else [first]
            done = first is None
            while not self._outcomes.empty():
                item = self._outcomes.get_nowait()
                if item is None:
                    done = True
                else:
                    batch.append(item)
            if not batch:
                continue
            await self._settle(batch)

    async def _settle(self, batch: list[SubmitOutcome], tries: int = 3) -> None:
        for attempt in range(1, tries + 1):
            try:
                await asyncio.to_thread(
                    settle, self._new_uow(), self._clock, batch, lease=self._lease
                )
                return
            except Exception:
                # Given up, the parts stay claimed and are due again after the lease: a
                # submitted one then goes out twice, the one duplicate no design avoids
                # without the commit of its SMSC id.
                log.exception(
                    "could not record %d submit outcomes (try %d of %d)", len(batch), attempt, tries
                )
                await asyncio.sleep(0.5 * attempt)
