"""The SMS side of the running platform, as ``vasguard serve`` drives it.

An engine takes MOs from the network into ``services.intake`` (acknowledging each only
after its commit), sends what the outbox holds, and applies delivery receipts. Two
engines provide this: the loopback SMSC (no SMSC configured: everything on one machine)
and SMPP binds to a real SMSC. The process starts one, asks whether it is ready, and
stops it on SIGTERM: stop taking MOs first, then finish what is in flight.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class SmsEngine(Protocol):
    async def start(self) -> None:
        """Begin: bind (SMPP) and start the loops that receive, send and apply receipts."""

    async def stop(self) -> None:
        """Stop taking MOs (unbind), let what is in flight finish, and return.

        Nothing half-written is left: an MO either committed and acknowledged, or not
        acknowledged (the SMSC redelivers it); an MT part either recorded as submitted
        with its SMSC id, or still queued.
        """

    def ready(self) -> bool:
        """Whether MOs can come in and MTs go out now (for ``/ready``)."""


class EngineGroup:
    """Several engines run as one: a sharded deployment's loopback sends each shard's
    outbox with an engine of its own (a shard's MTs are queued in its database)."""

    def __init__(self, engines: list[SmsEngine]) -> None:
        self._engines = engines

    async def start(self) -> None:
        for engine in self._engines:
            await engine.start()

    async def stop(self) -> None:
        await asyncio.gather(*(engine.stop() for engine in self._engines))

    def ready(self) -> bool:
        return all(engine.ready() for engine in self._engines)
