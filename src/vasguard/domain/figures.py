"""The dashboard's daily figures: what is counted, by local day, province and provider.

The figures job (``services/figures.py``) recounts whole days from the records and stores
one row per (day, province, provider, figure); the dashboard and the partner scorecards
read those rows instead of the millions of subscriptions behind them. A day is a calendar
day in the deployment zone. What each figure counts:

- ``orders``, ``confirmations``: subscriptions by the day they were ordered, confirmed;
- ``reminders_sent``, ``reminders_delivered``: charge reminders by the day the reminder
  job queued them, counted once the SMSC took them, and once their receipt said delivered;
- ``reminder_cancels``: subscriptions ended by the customer (or care for them) after their
  reminder and before any charge: the reminder doing its job;
- ``listings``: ``0000`` listings sent (no provider: a listing spans them);
- ``listing_cancels``: subscriptions ended through a listing (an item number or QX);
- ``cancellations``: every ending by the customer or care, through any path;
- ``complaints``: opened, by the provider complained about;
- ``charges``, ``refunds``: made that day, with their amounts (a plan fee has no provider);
- ``held``: subscriptions live at the end of the day, counted for the last refreshed day of
  each month (the scorecard's base for rates per 1,000).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput
from vasguard.domain.subscription import EndCause

# The provider of a figure that belongs to none (a listing, a plan fee).
NO_PROVIDER = 0
# The stored sums over every province, and over every provider (and none).
ALL_PROVINCES = "00"
ALL_PROVIDERS = -1

# Endings that are somebody's choice to cancel (not an order declined or left unconfirmed).
CANCELLING_CAUSES: frozenset[EndCause] = frozenset(
    {
        EndCause.TD_CODE,
        EndCause.TD_REMINDER,
        EndCause.LISTING_CANCEL,
        EndCause.CANCEL_ALL,
        EndCause.API,
        EndCause.SELF_SERVICE,
    }
)
LISTING_CAUSES: frozenset[EndCause] = frozenset({EndCause.LISTING_CANCEL, EndCause.CANCEL_ALL})


class Figure(StrEnum):
    ORDERS = "orders"
    CONFIRMATIONS = "confirmations"
    REMINDERS_SENT = "reminders_sent"
    REMINDERS_DELIVERED = "reminders_delivered"
    REMINDER_CANCELS = "reminder_cancels"
    LISTINGS = "listings"
    LISTING_CANCELS = "listing_cancels"
    CANCELLATIONS = "cancellations"
    COMPLAINTS = "complaints"
    CHARGES = "charges"
    REFUNDS = "refunds"
    HELD = "held"


# Figures that also carry an amount (fen).
WITH_AMOUNT: frozenset[Figure] = frozenset({Figure.CHARGES, Figure.REFUNDS})


@dataclass(frozen=True, slots=True)
class Days:
    """Local calendar days ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the last day comes before the first")

    @property
    def count(self) -> int:
        return (self.last - self.first).days + 1

    def each(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.count)]

    @classmethod
    def of_month(cls, month: Period) -> Days:
        return cls(date(month.year, month.month, 1), date(month.year, month.month, month.days))

    @classmethod
    def ending(cls, now: datetime, timezone: str, count: int) -> Days:
        """The ``count`` local days up to and including the one ``now`` falls on."""
        if count < 1:
            raise ValueError("at least one day")
        today = now.astimezone(ZoneInfo(timezone)).date()
        return cls(today - timedelta(days=count - 1), today)


_PROVINCE = re.compile(r"\d{2}")
_PROVIDER = re.compile(r"[0-9A-Za-z]{1,12}")


def check_filters(province: str | None, provider_code: str | None) -> None:
    """A dashboard's province is two digits and a provider's code up to 12 letters or
    digits: anything else is refused before a database is asked about it."""
    if province is not None and not _PROVINCE.fullmatch(province):
        raise InvalidInput(f"{province[:20]!r} is not a province code; use two digits such as 31")
    if provider_code is not None and not _PROVIDER.fullmatch(provider_code):
        raise InvalidInput(f"{provider_code[:20]!r} is not a provider code (letters and digits)")


def utc_offset(timezone: str, day: date) -> timedelta:
    """The zone's offset from UTC at noon of ``day``: the store buckets instants into local
    days by this one offset per refresh (exact for the zones this operator has, none of
    which keeps summer time; a zone that does is off by its shift on the changeover day)."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(timezone))
    offset = noon.utcoffset()
    assert offset is not None
    return offset


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts (and amounts, for charges and refunds) of a set of figures."""

    counts: dict[Figure, int] = field(default_factory=dict)
    fen: dict[Figure, int] = field(default_factory=dict)

    def __getitem__(self, figure: Figure) -> int:
        return self.counts.get(figure, 0)

    def amount(self, figure: Figure) -> int:
        return self.fen.get(figure, 0)

    def plus(self, figure: Figure, count: int, fen: int = 0) -> Tally:
        counts, amounts = dict(self.counts), dict(self.fen)
        counts[figure] = counts.get(figure, 0) + count
        if fen:
            amounts[figure] = amounts.get(figure, 0) + fen
        return Tally(counts, amounts)

    def joined(self, other: Tally) -> Tally:
        total = self
        for figure, count in other.counts.items():
            total = total.plus(figure, count, other.amount(figure))
        return total

    @property
    def confirmation_rate(self) -> float | None:
        """Confirmations over orders of the same days; ``None`` without orders."""
        return _ratio(self[Figure.CONFIRMATIONS], self[Figure.ORDERS])

    @property
    def delivery_rate(self) -> float | None:
        return _ratio(self[Figure.REMINDERS_DELIVERED], self[Figure.REMINDERS_SENT])


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class FigureLine:
    """One day's, province's or provider's tally, ``key`` being which."""

    key: str
    name: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class Dashboard:
    """What the dashboard shows for some days, optionally of one province or provider."""

    days: Days
    total: Tally
    by_day: list[FigureLine]
    by_province: list[FigureLine]
    by_provider: list[FigureLine]  # the busiest (most orders) first, at most TOP_PROVIDERS
    providers: int  # how many providers have figures in these days
    refreshed_at: datetime | None  # when the figures job last recounted any of these days


# The dashboard's providers: the busiest of thousands, so a page stays a few rows.
TOP_PROVIDERS = 20


def merged_lines(shards: Iterable[Iterable[FigureLine]]) -> list[FigureLine]:
    """Several shards' lines summed per key (a day or a provider is on every shard), in
    key order."""
    tallies: dict[str, FigureLine] = {}
    for lines in shards:
        for line in lines:
            seen = tallies.get(line.key)
            tallies[line.key] = (
                line
                if seen is None
                else FigureLine(line.key, line.name, seen.tally.joined(line.tally))
            )
    return [tallies[key] for key in sorted(tallies)]
