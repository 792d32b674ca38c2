"""Time is injected: nothing time-dependent reads the wall clock except ``SystemClock``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from vasguard.domain.refusals import InvalidInput

DEFAULT_ZONE = "Asia/Shanghai"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """The one place that reads the wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until told to move: for ``--at`` and for tests."""

    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = self.at.astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta


def parse_instant(text: str, zone: str | tzinfo = DEFAULT_ZONE) -> datetime:
    """Parse an ISO-8601 instant; one without an offset is in the deployment zone.

    Returns aware UTC. Raises ``ValueError`` with a message fit for a user.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO-8601 time; write e.g. 2026-11-24T10:00:00 "
            "or 2026-11-24T02:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        tz = ZoneInfo(zone) if isinstance(zone, str) else zone
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def local(at: datetime, zone: str = DEFAULT_ZONE) -> datetime:
    """Show an instant in the deployment (or a province's) zone."""
    return at.astimezone(ZoneInfo(zone))
