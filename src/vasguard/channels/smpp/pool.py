"""Several binds to one SMSC, as an operator grants a platform more than one.

Each bind is an ``EsmeSession`` with its own window and rate limit (SMSCs count them per
bind); ``submit`` goes to a bound session with the fewest submits in flight, so a bind
that is reconnecting or slow is avoided rather than waited on. MOs arrive on every bind
and go to the same handler.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

from vasguard.channels.smpp.config import SmppConfig
from vasguard.channels.smpp.errors import NotBound
from vasguard.channels.smpp.link import DeliverHandler
from vasguard.channels.smpp.pdus import ShortMessage
from vasguard.channels.smpp.session import EsmeSession


class BindPool:
    def __init__(
        self, config: SmppConfig, handler: DeliverHandler, *, rng: random.Random | None = None
    ) -> None:
        one = replace(config, binds=1)
        self.sessions = tuple(
            EsmeSession(one, handler, name=f"bind-{index}", rng=rng)
            for index in range(1, config.binds + 1)
        )
        self._turn = 0

    async def __aenter__(self) -> BindPool:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def bound(self) -> int:
        """How many binds are up now (for readiness and metrics)."""
        return sum(session.is_bound for session in self.sessions)

    def start(self) -> None:
        for session in self.sessions:
            session.start()

    async def wait_bound(self, timeout: float, *, count: int | None = None) -> None:
        """Until ``count`` binds (default all) are up; ``TimeoutError`` otherwise."""
        wanted = len(self.sessions) if count is None else count
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.bound < wanted:
            if loop.time() >= deadline:
                raise TimeoutError(f"{self.bound} of {wanted} SMPP binds up after {timeout} s")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self.sessions))

    async def submit(self, message: ShortMessage) -> str:
        """Like ``EsmeSession.submit`` on the least busy bound session; ``NotBound`` only
        when no session could take it."""
        self._turn += 1
        count = len(self.sessions)
        rotated = [self.sessions[(self._turn + i) % count] for i in range(count)]
        for session in sorted((s for s in rotated if s.is_bound), key=lambda s: s.outstanding):
            try:
                return await session.submit(message)
            except NotBound:
                continue
        raise NotBound(f"none of the {count} SMPP binds is up")
