"""The embedded SMSC: MT parts are 'delivered' locally and can be read back.

It is the default transport when no SMSC is configured, so the whole product runs on one
machine. It takes parts as an SMSC does, one submit each, and a handset's inbox shows
each MT joined from its parts. Receipts are handed back when asked for (``delivered=False``
to test failures). It keeps only the latest ``keep`` parts: a process that runs for months
must not hold every MT it ever sent; the store has them all.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from vasguard.domain.messages import Receipt
from vasguard.domain.mt_parts import Outgoing


@dataclass
class LoopbackSmsc:
    keep: int = 10_000
    prefix: str = "loop"
    delivered: deque[Outgoing] = field(init=False)
    pending_receipts: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.delivered = deque(maxlen=self.keep)

    def submit(self, part: Outgoing) -> str:
        smsc_id = f"{self.prefix}-{part.message_id}-{part.number}-{next(self._ids)}"
        self.delivered.append(part)
        self.pending_receipts.append(smsc_id)
        return smsc_id

    def receipts(self, at: datetime, *, delivered: bool = True) -> list[Receipt]:
        """Take the receipts for everything submitted since the last call."""
        taken, self.pending_receipts = self.pending_receipts, []
        stat = "DELIVRD" if delivered else "UNDELIV"
        return [Receipt(smsc_id, delivered, at, stat) for smsc_id in taken]

    def inbox(self, msisdn: str) -> list[str]:
        """What a handset would show, in order: each MT joined from its parts (of the
        parts still kept)."""
        texts: dict[int, dict[int, str]] = {}
        for part in self.delivered:
            if part.msisdn == msisdn:
                texts.setdefault(part.message_id, {})[part.number] = part.text
        return ["".join(parts[n] for n in sorted(parts)) for parts in texts.values()]
