"""What a period's report counts, per province or per partner.

A period is a calendar month in the deployment zone (``domain/periods.py``). Orders,
confirmations, endings and complaints are counted by when they happened in it; charges
are the period's charges (made by its bill runs, which run after it), and refunds are
those of the period's charges, whenever they were given: so ``charged_fen -
refunded_fen`` is what the period earned.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def merged(shards: Iterable[Iterable[ReportLine]]) -> list[ReportLine]:
    """Several shards' lines as one report: a province lives on one shard, but a partner's
    line is the sum of its lines on every shard. By code."""
    lines: dict[str, ReportLine] = {}
    for shard in shards:
        for line in shard:
            seen = lines.get(line.code)
            lines[line.code] = line if seen is None else _sum(seen, line)
    return [lines[code] for code in sorted(lines)]


def _sum(a: ReportLine, b: ReportLine) -> ReportLine:
    causes = dict(a.cancellations)
    for cause, count in b.cancellations.items():
        causes[cause] = causes.get(cause, 0) + count
    return ReportLine(
        a.code,
        a.name,
        orders=a.orders + b.orders,
        confirmations=a.confirmations + b.confirmations,
        cancellations=causes,
        complaints=a.complaints + b.complaints,
        charges=a.charges + b.charges,
        charged_fen=a.charged_fen + b.charged_fen,
        refunds=a.refunds + b.refunds,
        refunded_fen=a.refunded_fen + b.refunded_fen,
    )
