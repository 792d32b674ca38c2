"""The national view: reports, dashboard and scorecards over every shard.

Each shard answers for its provinces with the single-database query (its own daily
figures, its own grouped report), all shards at once, and the answers are summed here
(``domain/reports.merged``, ``domain/figures.merged_lines``): a province's figures come
from its one shard, a day's or a partner's from all of them. With one shard this is that
shard's answer. (The other way, ``postgres_fdw`` foreign tables on the national
database, is measured in ``docs/scale-out.md``.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from vasguard.domain.figures import TOP_PROVIDERS, Dashboard, Days, Figure, merged_lines
from vasguard.domain.reports import ReportLine, merged
from vasguard.domain.scorecards import Scorecard, Thresholds
from vasguard.services import figures, reports
from vasguard.services.deployment import Deployment
from vasguard.services.shards import UowFactory, on_every_shard, results
from vasguard.services.unit_of_work import UnitOfWork

T = TypeVar("T")

# Shards asked at once for a page or a report.
PARALLEL = 8


def _everywhere(shards: Mapping[str, UowFactory], work: Callable[[UnitOfWork], T]) -> list[T]:
    """``work`` on a new unit of work of every shard, all at once: every shard's answer
    (a national figure without one shard would be wrong, not partial)."""
    return results(
        on_every_shard(shards, lambda _name, new_uow: work(new_uow()), parallel=PARALLEL)
    )


def province_report(
    shards: Mapping[str, UowFactory], deployment: Deployment, period: str
) -> list[ReportLine]:
    return merged(_everywhere(shards, lambda uow: reports.province_report(uow, deployment, period)))


def partner_report(
    shards: Mapping[str, UowFactory], deployment: Deployment, period: str
) -> list[ReportLine]:
    return merged(_everywhere(shards, lambda uow: reports.partner_report(uow, deployment, period)))


def dashboard(
    shards: Mapping[str, UowFactory],
    days: Days,
    *,
    province: str | None = None,
    provider_code: str | None = None,
) -> Dashboard:
    """The dashboard over ``shards`` (for a province, pass only its shard)."""
    boards = _everywhere(
        shards,
        lambda uow: figures.dashboard(uow, days, province=province, provider_code=provider_code),
    )
    by_day = merged_lines(b.by_day for b in boards)
    stamps = [b.refreshed_at for b in boards if b.refreshed_at is not None]
    return Dashboard(
        days=days,
        total=figures.total_of(by_day),
        by_day=by_day,
        by_province=merged_lines(b.by_province for b in boards),
        by_provider=sorted(
            merged_lines(b.by_provider for b in boards),
            key=lambda line: (-line.tally[Figure.ORDERS], line.key),
        )[:TOP_PROVIDERS],
        # A partner sells in several shards' provinces: the largest shard's count is a floor.
        providers=max(b.providers for b in boards),
        refreshed_at=min(stamps) if stamps else None,
    )


def scorecards(
    shards: Mapping[str, UowFactory],
    deployment: Deployment,
    period: str,
    *,
    flagged_by: Thresholds | None = None,
    busiest: int | None = None,
) -> tuple[list[Scorecard], int]:
    """Every shard's scorecards summed, and how many there are. ``flagged_by`` and
    ``busiest`` narrow a single shard's in SQL; over several shards a partner's orders are
    split between them, so each shard answers for every partner and the sums are narrowed
    here."""
    if len(shards) == 1:
        [(cards, count)] = _everywhere(
            shards,
            lambda uow: figures.scorecards(
                uow, deployment, period, flagged_by=flagged_by, busiest=busiest
            ),
        )
        return cards, count
    summed: dict[str, Scorecard] = {}
    for on_shard, _count in _everywhere(
        shards, lambda uow: figures.scorecards(uow, deployment, period)
    ):
        for card in on_shard:
            seen = summed.get(card.provider_code)
            summed[card.provider_code] = (
                card
                if seen is None
                else Scorecard(
                    card.provider_code,
                    card.provider_name,
                    card.period,
                    seen.tally.joined(card.tally),
                )
            )
    cards = [summed[code] for code in sorted(summed)]
    if flagged_by is not None:
        cards = [card for card in cards if card.flags(flagged_by)]
    count = len(cards)
    if busiest is not None:
        cards = sorted(cards, key=lambda c: (-c.orders, c.provider_code))[:busiest]
    return sorted(cards, key=lambda c: c.provider_code), count
