"""The embedded SMSC: MTs are 'delivered' locally and can be read back.

It is the default transport when no SMSC is configured, so the whole product runs on one
machine. Receipts are handed back when asked for (``delivered=False`` to test failures).
It keeps only the latest ``keep`` messages: a process that runs for months must not hold
every MT it ever sent; the store has them all.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from vasguard.domain.messages import Outgoing, Receipt


@dataclass
class LoopbackSmsc:
    keep: int = 10_000
    prefix: str = "loop"
    delivered: deque[Outgoing] = field(init=False)
    pending_receipts: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.delivered = deque(maxlen=self.keep)

    def submit(self, message: Outgoing) -> str:
        smsc_id = f"{self.prefix}-{message.message_id}-{next(self._ids)}"
        self.delivered.append(message)
        self.pending_receipts.append(smsc_id)
        return smsc_id

    def receipts(self, at: datetime, *, delivered: bool = True) -> list[Receipt]:
        """Take the receipts for everything submitted since the last call."""
        taken, self.pending_receipts = self.pending_receipts, []
        return [Receipt(smsc_id, delivered, at) for smsc_id in taken]

    def inbox(self, msisdn: str) -> list[str]:
        """What a handset would have received, in order (of the messages still kept)."""
        return [m.text for m in self.delivered if m.msisdn == msisdn]
