"""One transport's room for submits, shared by the outbox senders of several shards.

A sharded deployment drains each shard's outbox with a sender of its own (claims are
per database), all through one set of binds. A sender alone may fill the whole window;
while others have submits in flight, each may have an equal share of it in flight. A
sender that comes with work while another holds the whole window claims its share at
once, and those submits wait for the binds' next free slots, ahead of anything the
busy sender claims later (it claims nothing more until it is under its share): so a
shard with a deep outbox delays another shard's reply by one window at most, never
starves it, and nothing is left unused while one shard alone has work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial

from vasguard.channels.sms.sender import Submit
from vasguard.domain.mt_parts import Outgoing, SubmitOutcome


class WindowShares:
    def __init__(self, room: Callable[[], int]) -> None:
        """``room``: how many submits the transport can have in flight now."""
        self._room = room
        self._busy: Counter[str] = Counter()

    def capacity(self, name: str) -> Callable[[], int]:
        """``OutboxSender``'s ``capacity`` for the sender ``name``."""
        return partial(self._capacity, name)

    def counted(self, name: str, submit: Submit) -> Submit:
        """``submit``, counted as the sender ``name``'s while in flight."""

        async def counting(part: Outgoing) -> SubmitOutcome:
            self._busy[name] += 1
            try:
                return await submit(part)
            finally:
                self._busy[name] -= 1

        return counting

    def _capacity(self, name: str) -> int:
        room = self._room()
        sharing = 1 + sum(1 for other, busy in self._busy.items() if busy and other != name)
        if sharing == 1 or room == 0:
            return room
        return max(1, room // sharing)
