"""MT parts as the sender handles them: how an MT is cut, what one submit came to, and
when a part is tried again (invariant 11: a part is handed to the SMSC at most once once
its submit_sm_resp is stored, and at least once in all).

Rules:

* An MT is cut exactly as it was counted when queued: replies (``in_reply_to`` set) keep
  their lines whole, as ``services.handled_mo`` queues them; other MTs are cut hard.
* A throttled part (the SMSC is busy) waits ``throttle_delay``: exponential in its
  attempts, capped, so a busy SMSC is not hammered and a part is never given up for it.
* A part whose outcome is unknown (submit_sm sent, no submit_sm_resp: a timeout or a drop)
  is submitted again once its claim's lease has run out. The SMSC may have taken it, so
  this risks a duplicate SMS; not sending it again risks losing it, which the invariant
  forbids ("at least once in all") and which would leave a customer unanswered or a
  charge reminder unsent. After ``MAX_UNKNOWN_ATTEMPTS`` sends it is failed instead, so a
  message the SMSC swallows every time does not go out forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from vasguard.domain.segmentation import Encoding, Segmented, split

MAX_UNKNOWN_ATTEMPTS = 5
THROTTLE_FIRST = timedelta(seconds=1)
THROTTLE_MAX = timedelta(seconds=60)


def cut(text: str, *, reply: bool) -> Segmented:
    """The parts of a queued MT, cut as they were counted when it was queued."""
    return split(text, avoid_breaking_lines=reply)


def throttle_delay(attempts: int) -> timedelta:
    """How long a part refused by a busy SMSC waits after its ``attempts``-th submit."""
    steps = min(max(attempts - 1, 0), 16)
    delay: timedelta = THROTTLE_FIRST * 2**steps
    return min(delay, THROTTLE_MAX)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed MT part, as a transport submits it.

    ``reference`` is the concatenation reference its siblings share (from the message
    id), ``number`` counts from 1 of ``parts``; ``text`` is this part's text only.
    """

    part_id: int
    message_id: int
    msisdn: str
    source: str
    encoding: Encoding
    number: int
    parts: int
    text: str
    attempts: int

    @property
    def reference(self) -> int:
        return self.message_id % 256


@dataclass(frozen=True, slots=True)
class Submitted:
    """The SMSC took the part and gave it this id."""

    part: Outgoing
    smsc_message_id: str


@dataclass(frozen=True, slots=True)
class Throttled:
    """The SMSC is busy (ESME_RTHROTTLED, ESME_RMSGQFUL): send the part again later."""

    part: Outgoing
    status: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """The SMSC will never take the part: it and its message fail with ``status``."""

    part: Outgoing
    status: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Sent, but no answer came: retried after the claim's lease (see module doc)."""

    part: Outgoing
    reason: str


@dataclass(frozen=True, slots=True)
class NotSent:
    """Nothing went out (no bind up, or the sender is stopping): free the part now."""

    part: Outgoing


SubmitOutcome = Submitted | Throttled | Rejected | Unknown | NotSent

OWNER_LENGTH = 64  # message_parts.claimed_by


@dataclass(frozen=True, slots=True)
class Claim:
    """Who claims parts and for how long: the lease must outlast a submit (window wait,
    rate limit and response timeout together), or a slow sender's part is taken again."""

    owner: str
    lease: timedelta
    at: datetime

    @property
    def until(self) -> datetime:
        return self.at + self.lease

    @property
    def owner_recorded(self) -> str:
        """``owner`` as a claim records it: whole when it fits ``OWNER_LENGTH``; a long
        host name and a shard's name can pass it, and are then cut with a digest of the
        whole kept, so two owners never record the same name."""
        if len(self.owner) <= OWNER_LENGTH:
            return self.owner
        digest = hashlib.sha256(self.owner.encode()).hexdigest()[:12]
        return f"{self.owner[: OWNER_LENGTH - 13]}~{digest}"
