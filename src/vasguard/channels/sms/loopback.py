"""The embedded SMSC: MTs are 'delivered' locally and can be read back.

It is the default transport when no SMSC is configured, so the whole product runs on one
machine; receipts are produced at once (or held back, to test failures).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from vasguard.services.outbox import Outgoing, Receipt


@dataclass
class LoopbackSmsc:
    auto_receipt: bool = True
    delivered: list[Outgoing] = field(default_factory=list)
    pending_receipts: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    prefix: str = "loop"

    def submit(self, message: Outgoing) -> str:
        smsc_id = f"{self.prefix}-{message.message_id}-{next(self._ids)}"
        self.delivered.append(message)
        self.pending_receipts.append(smsc_id)
        return smsc_id

    def receipts(self, at: datetime, *, delivered: bool = True) -> list[Receipt]:
        """Take the receipts for everything submitted so far."""
        taken, self.pending_receipts = self.pending_receipts, []
        return [Receipt(smsc_id, delivered, at) for smsc_id in taken]

    def inbox(self, msisdn: str) -> list[str]:
        """What a handset would have received, in order."""
        return [m.text for m in self.delivered if m.msisdn == msisdn]
