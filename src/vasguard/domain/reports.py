"""What a period's report counts, per province or per partner.

A period is a calendar month in the deployment zone (``domain/periods.py``). Orders,
confirmations, endings and complaints are counted by when they happened in it; charges
are the period's charges (made by its bill runs, which run after it), and refunds are
those of the period's charges, whenever they were given: so ``charged_fen -
refunded_fen`` is what the period earned.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One province's or one provider's period; ``cancellations`` by end cause
    (``domain/subscription.py`` ``EndCause``: orders declined or left unconfirmed too)."""

    code: str
    name: str
    orders: int = 0
    confirmations: int = 0
    cancellations: dict[str, int] = field(default_factory=dict)
    complaints: int = 0
    charges: int = 0
    charged_fen: int = 0
    refunds: int = 0
    refunded_fen: int = 0
