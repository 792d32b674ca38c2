"""A subscriber's timeline: messages, changes, charges, refunds and complaints, newest first.

Care reads one list, not five: each kind's entries are merged by time. The order is
``(at, kind, id)`` descending, a total order (ids are unique within a kind), so a page
continues exactly after the key of its last entry, however many entries share an instant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from vasguard.domain.refusals import InvalidInput


class EntryKind(StrEnum):
    """What an entry is; between entries of one instant, the later name comes first."""

    CHARGE = "charge"
    COMPLAINT = "complaint"
    EVENT = "event"
    MESSAGE = "message"
    REFUND = "refund"


@dataclass(frozen=True, order=True, slots=True)
class TimelineKey:
    """Where an entry stands in the timeline; a page continues after the last one's key."""

    at: datetime
    kind: EntryKind
    id: int

    def follows(self, kind: EntryKind) -> tuple[bool, bool]:
        """For entries of ``kind`` that come after this key: whether those at this very
        instant do at all, and whether their id must be below this key's to."""
        if kind < self.kind:
            return True, False
        if kind == self.kind:
            return True, True
        return False, False


class _Placed:
    """What places an entry in the timeline: its instant, its kind and its id."""

    __slots__ = ()
    kind: ClassVar[EntryKind]
    id: int
    at: datetime

    @property
    def key(self) -> TimelineKey:
        return TimelineKey(self.at, self.kind, self.id)


@dataclass(frozen=True, slots=True)
class MessageEntry(_Placed):
    """An MO or an MT; an MT's ``status`` says how far it got (queued … delivered, failed)."""

    kind: ClassVar[EntryKind] = EntryKind.MESSAGE
    id: int
    at: datetime
    direction: str
    message_kind: str
    service_number: str
    text: str
    parts: int
    status: str
    receipt_status: str | None
    receipt_at: datetime | None
    subscription_id: int | None
    in_reply_to: int | None


@dataclass(frozen=True, slots=True)
class EventEntry(_Placed):
    """A state change and its cause: an MO id, an API key's name, a job run."""

    kind: ClassVar[EntryKind] = EntryKind.EVENT
    id: int
    at: datetime
    entity: str
    entity_id: int | None
    event: str
    cause_kind: str
    cause_ref: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChargeEntry(_Placed):
    kind: ClassVar[EntryKind] = EntryKind.CHARGE
    id: int
    at: datetime
    period: str
    charge_kind: str
    amount_fen: int
    subscription_id: int | None
    subscriber_plan_id: int | None
    bill_run_id: int | None


@dataclass(frozen=True, slots=True)
class RefundEntry(_Placed):
    kind: ClassVar[EntryKind] = EntryKind.REFUND
    id: int
    at: datetime
    charge_id: int
    amount_fen: int
    complaint_id: int | None
    cause_ref: str


@dataclass(frozen=True, slots=True)
class ComplaintEntry(_Placed):
    kind: ClassVar[EntryKind] = EntryKind.COMPLAINT
    id: int
    at: datetime
    ticket: str
    status: str
    subscription_id: int | None
    provider_id: int | None
    text: str
    resolved_at: datetime | None
    resolution: str | None


Entry = MessageEntry | EventEntry | ChargeEntry | RefundEntry | ComplaintEntry


def newest_first(entries: Iterable[Entry], limit: int) -> list[Entry]:
    """The first ``limit`` entries in timeline order, from each kind's own newest ones."""
    return sorted(entries, key=lambda e: e.key, reverse=True)[:limit]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

TIMELINE_CURSOR_PATTERN = (
    r"^(0|[1-9][0-9]{0,16})\.(" + "|".join(k.value for k in EntryKind) + r")\.(0|[1-9][0-9]{0,15})$"
)
"""Microseconds since 1970 (to year 5138), the kind, the id: every such text is a key."""


def encode_timeline_cursor(key: TimelineKey) -> str:
    micros = (key.at - _EPOCH) // _MICROSECOND
    return f"{micros}.{key.kind.value}.{key.id}"


def decode_timeline_cursor(cursor: str | None) -> TimelineKey | None:
    """The key to continue after (``None``: the newest first); one we did not make is refused."""
    if cursor is None:
        return None
    if not re.fullmatch(TIMELINE_CURSOR_PATTERN, cursor):
        raise InvalidInput(f"cursor {cursor[:64]!r} is not one we gave")
    micros, kind, entry_id = cursor.split(".")
    return TimelineKey(_EPOCH + int(micros) * _MICROSECOND, EntryKind(kind), int(entry_id))
