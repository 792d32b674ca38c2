"""A partner's month, and when it looks like orders without real consent.

The whole programme exists because some partners sign customers up who never asked: such
orders are left unconfirmed, cancelled as soon as the reminder arrives, cancelled through
``0000`` and complained about. A scorecard sums a partner's daily figures over a calendar
month (``domain/figures.py``); a partner is **flagged** when, with at least
``min_orders`` orders to judge by, any of its rates crosses the operator's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vasguard.domain.figures import Figure, Tally


class Flag(StrEnum):
    LOW_CONFIRMATION = "low_confirmation"  # orders the customer did not confirm
    REMINDER_CANCELS = "reminder_cancels"  # confirmed, then cancelled once reminded
    LISTING_CANCELS = "listing_cancels"  # found in 0000 and cancelled
    COMPLAINTS = "complaints"  # complaints per 1,000 subscriptions held


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a partner is flagged (configuration: ``VASGUARD_SCORECARD_*``)."""

    min_orders: int = 20
    min_confirmation_rate: float = 0.6
    max_reminder_cancel_rate: float = 0.2  # of the month's confirmations
    max_listing_cancel_rate: float = 0.05  # of the subscriptions held
    max_complaints_per_1000: float = 5.0


@dataclass(frozen=True, slots=True)
class Scorecard:
    provider_code: str
    provider_name: str
    period: str
    tally: Tally

    @property
    def orders(self) -> int:
        return self.tally[Figure.ORDERS]

    @property
    def confirmation_rate(self) -> float | None:
        return self.tally.confirmation_rate

    @property
    def reminder_cancels(self) -> int:
        return self.tally[Figure.REMINDER_CANCELS]

    @property
    def reminder_cancel_rate(self) -> float | None:
        confirmed = self.tally[Figure.CONFIRMATIONS]
        return self.reminder_cancels / confirmed if confirmed else None

    @property
    def listing_cancels(self) -> int:
        return self.tally[Figure.LISTING_CANCELS]

    @property
    def held(self) -> int:
        return self.tally[Figure.HELD]

    @property
    def listing_cancel_rate(self) -> float | None:
        return self.listing_cancels / self.held if self.held else None

    @property
    def complaints(self) -> int:
        return self.tally[Figure.COMPLAINTS]

    @property
    def complaints_per_1000(self) -> float | None:
        return 1000 * self.complaints / self.held if self.held else None

    @property
    def refunds(self) -> int:
        return self.tally[Figure.REFUNDS]

    @property
    def refunded_fen(self) -> int:
        return self.tally.amount(Figure.REFUNDS)

    def flags(self, limits: Thresholds) -> tuple[Flag, ...]:
        """The thresholds this month crosses; none below ``min_orders`` orders (too few to
        tell a pattern from bad luck)."""
        if self.orders < limits.min_orders:
            return ()
        crossed: list[Flag] = []
        if _below(self.confirmation_rate, limits.min_confirmation_rate):
            crossed.append(Flag.LOW_CONFIRMATION)
        if _above(self.reminder_cancel_rate, limits.max_reminder_cancel_rate):
            crossed.append(Flag.REMINDER_CANCELS)
        if _above(self.listing_cancel_rate, limits.max_listing_cancel_rate):
            crossed.append(Flag.LISTING_CANCELS)
        if _above(self.complaints_per_1000, limits.max_complaints_per_1000):
            crossed.append(Flag.COMPLAINTS)
        return tuple(crossed)


def _below(rate: float | None, limit: float) -> bool:
    return rate is not None and rate < limit


def _above(rate: float | None, limit: float) -> bool:
    return rate is not None and rate > limit
