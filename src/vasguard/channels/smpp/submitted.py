"""Which shard each recent SMSC id was submitted from: where its receipt goes.

Parts of every shard's outbox go out through the same binds, and a receipt carries only
the SMSC id, so the engine remembers, for the most recent ``size`` ids, the shard that
submitted each. A receipt can overtake its own submit_sm_resp (the SMSC sends it first):
its id is then unknown only until the response is read, so ``wait_for`` lets a receipt
wait, at most ``timeout``, for the submits in flight when it came. Memory is an
optimisation, not the record: an id it does not know is looked for on the shards
(``services.routed_receipts``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Mapping

DEFAULT_SIZE = 200_000
"""Ids remembered: hours of receipts at a busy platform's rate, a few tens of MB."""


class SubmittedIds:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._shards: OrderedDict[str, str] = OrderedDict()
        self._in_flight: set[int] = set()
        self._tickets = itertools.count()
        self._changed = asyncio.Event()

    async def track(self, shard: str, submit: Awaitable[str]) -> str:
        """Await ``submit`` (a submit_sm from ``shard``'s outbox) and remember its id."""
        ticket = next(self._tickets)
        self._in_flight.add(ticket)
        try:
            smsc_id = await submit
            self.remember({smsc_id: shard})
            return smsc_id
        finally:
            self._in_flight.discard(ticket)
            self._changed.set()
            self._changed = asyncio.Event()

    def remember(self, shards: Mapping[str, str]) -> None:
        """Keep these ids' shards (as the newest), forgetting the oldest past ``size``."""
        for smsc_id, shard in shards.items():
            self._shards[smsc_id] = shard
            self._shards.move_to_end(smsc_id)
        while len(self._shards) > self._size:
            self._shards.popitem(last=False)

    def shards_of(self, smsc_ids: Iterable[str]) -> dict[str, str]:
        """The shard of each id remembered."""
        return {i: self._shards[i] for i in smsc_ids if i in self._shards}

    async def wait_for(self, smsc_ids: Iterable[str], timeout: float) -> None:
        """Until every id is known, or every submit in flight now has its answer (an id
        still unknown then was not submitted here lately), or ``timeout`` passed."""
        ids = set(smsc_ids)
        before = set(self._in_flight)
        deadline = asyncio.get_running_loop().time() + timeout
        while before & self._in_flight and not ids <= self._shards.keys():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return
