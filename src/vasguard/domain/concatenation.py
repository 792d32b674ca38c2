"""Concatenated MOs: which parts belong together, when a message is complete, and what
an incomplete one is kept as.

Rules:

* Parts belong together when they share sender, destination, reference (8- or 16-bit
  UDH, or SAR) and announced total; ``seqnum`` 1..total says where each goes.
* A message is complete when every seqnum 1..total is there; it is then acted on once:
  its key (``mo_key``) is a digest of everything that identifies it, so a part
  redelivered later finds the same message and the intake sees a duplicate.
* A message still incomplete ``timeout`` after its first part arrived is kept as an MO
  that nothing acts on (its text is what arrived, gaps marked ``INCOMPLETE_GAP``): a
  command read from half a message could cancel the wrong service, and dropping it
  would lose what the customer sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

DEFAULT_TIMEOUT = timedelta(minutes=5)
INCOMPLETE_GAP = "[…]"


class SetKey(NamedTuple):
    sender: str
    destination: str
    reference: int
    total: int


@dataclass(frozen=True, slots=True)
class Fragment:
    """One part of a concatenated MO: its payload without the UDH."""

    key: SetKey
    seqnum: int
    data_coding: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class FragmentSet:
    """The parts of one concatenated MO stored so far, by seqnum."""

    key: SetKey
    data_coding: int
    payloads: dict[int, bytes]
    first_received_at: datetime

    @property
    def complete(self) -> bool:
        return set(self.payloads) == set(range(1, self.key.total + 1))

    @property
    def joined(self) -> bytes:
        """The payloads in order (a complete set: the message's user data)."""
        return b"".join(self.payloads[n] for n in sorted(self.payloads))

    def expired(self, now: datetime, timeout: timedelta) -> bool:
        return now - self.first_received_at >= timeout

    def mo_key(self) -> str:
        """The id the reassembled MO is stored under (see module doc)."""
        digest = hashlib.sha256()
        for value in (*self.key, self.data_coding):
            digest.update(f"{value}\x1f".encode())
        digest.update(self.joined)
        return f"cat:{digest.hexdigest()[:40]}"
