"""Billing periods: calendar months in the deployment zone, the one month helper.

Charging, plans (which take effect on the 1st), the reminder job (notices since the
month began) and the generator all ask this module where a month starts and ends.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from vasguard.domain.refusals import InvalidInput

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# Periods a deployment can name: wide enough for any real ledger, narrow enough that a
# period's first and last instants exist as datetimes in every zone.
FIRST_YEAR = 1970
LAST_YEAR = 2999


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period: one calendar month in the deployment zone."""

    year: int
    month: int
    zone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not FIRST_YEAR <= self.year <= LAST_YEAR or not 1 <= self.month <= 12:
            raise InvalidInput(
                f"{self.year:04d}-{self.month:02d} is not a billing period this platform "
                f"keeps; periods run from {FIRST_YEAR}-01 to {LAST_YEAR}-12"
            )

    @classmethod
    def parse(cls, text: str, zone: str = "Asia/Shanghai") -> Period:
        """``YYYY-MM``; anything else is refused with a message fit for the user."""
        match = _PERIOD.match(text.strip())
        if match is None:
            raise InvalidInput(f"{text!r} is not a billing period; write YYYY-MM, e.g. 2026-11")
        return cls(int(match[1]), int(match[2]), zone)

    @classmethod
    def of(cls, at: datetime, zone: str = "Asia/Shanghai") -> Period:
        """The period ``at`` falls in, in ``zone``."""
        local = at.astimezone(ZoneInfo(zone))
        return cls(local.year, local.month, zone)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        year, month = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return Period(year, month, self.zone)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def day_start(self, day: int) -> datetime:
        """Local midnight starting ``day`` (1-based; ``days + 1`` is the next month's first)."""
        on = date(self.year, self.month, 1) + timedelta(days=day - 1)
        return datetime(on.year, on.month, on.day, tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.day_start(1)

    @property
    def end(self) -> datetime:
        return self.day_start(self.days + 1)

    def day_of(self, at: datetime) -> int:
        """The local day of the month ``at`` falls on; ``at`` must be inside the period."""
        if not self.start <= at < self.end:
            raise ValueError(f"{at.isoformat()} is not in period {self}")
        return at.astimezone(ZoneInfo(self.zone)).day
