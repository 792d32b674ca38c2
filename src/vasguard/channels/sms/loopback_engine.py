"""The SMS engine without an SMSC: the loopback SMSC, drained on a short interval.

MOs reach the platform over HTTP or the CLI here, so this engine only sends: every
``interval`` seconds it flushes the outbox through the loopback SMSC with the outbox's own
rules (``services.outbox.flush``: claim, submit, settle) and applies the receipts the
loopback hands back, all in a thread. A running ``serve`` with no SMSC configured thus
delivers replies, notices and reminders by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from vasguard.channels.metrics import OUTBOX_DEPTH
from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.clock import Clock
from vasguard.services.outbox import flush, outbox_depth, record_receipts
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger("vasguard.channels.sms")


class LoopbackEngine:
    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        clock: Clock,
        smsc: LoopbackSmsc | None = None,
        *,
        interval: float = 0.2,
        owner: str = "loopback",
    ) -> None:
        self.smsc = smsc or LoopbackSmsc()
        self._new_uow = new_uow
        self._clock = clock
        self._interval = interval
        self._owner = owner
        self._stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="loopback-sms")

    def ready(self) -> bool:
        return self._runner is not None and not self._runner.done()

    async def stop(self) -> None:
        """Stop after the flush under way, if any (a flush settles every part it claimed)."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner

    def deliver_once(self) -> int:
        """One flush and its receipts; how many MTs went out (synchronous: in a thread)."""
        sent = flush(self._new_uow(), self._clock, self.smsc, owner=self._owner)
        record_receipts(self._new_uow(), self.smsc.receipts(self._clock.now()))
        OUTBOX_DEPTH.set(outbox_depth(self._new_uow(), self._clock))
        return sent

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.deliver_once)
            except Exception:
                log.exception("loopback delivery failed; trying again in %.1f s", self._interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
