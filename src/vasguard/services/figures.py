"""The dashboard's figures and the partner scorecards (``domain/figures``, ``/scorecards``).

``recount_figures`` is the figures job (the scheduler runs it every few minutes, the CLI
as ``vasguard jobs figures``): it recounts the last days, so late receipts, refunds and
endings land in the day they belong to, and a re-run writes the same rows. The readers
answer from the stored rows only, so a page costs a few hundred rows a day whatever the
number of subscriptions; they say when the figures were last recounted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from vasguard.domain.clock import Clock
from vasguard.domain.figures import (
    TOP_PROVIDERS,
    Dashboard,
    Days,
    FigureLine,
    Tally,
    check_filters,
    utc_offset,
)
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput, Refused
from vasguard.domain.scorecards import Scorecard, Thresholds
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork

# Longest span one recount or one dashboard covers: enough to backfill a year.
MAX_DAYS = 400


class FiguresBusy(Refused):
    code = "figures_busy"


@dataclass(frozen=True, slots=True)
class Recounted:
    days: Days
    rows: int  # at the finest grain (day, province, provider, figure)


def recount_figures(uow: UnitOfWork, clock: Clock, deployment: Deployment, days: int) -> Recounted:
    """Recount the ``days`` local days up to today's; ``held`` at the end of each month's
    last day among them (today's for the month in progress)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"recount between 1 and {MAX_DAYS} days")
    now = clock.now()
    window = Days.ending(now, deployment.timezone, days)
    held_on = _last_of_each_month(window)
    offset = utc_offset(deployment.timezone, window.last)
    with uow, uow.figures.recounting() as free:
        if not free:
            raise FiguresBusy("the figures are being recounted by another process; try again later")
        rows = uow.figures.recount(window, deployment.timezone, offset, held_on, now)
        uow.commit()
    return Recounted(window, rows)


def _last_of_each_month(days: Days) -> list[date]:
    ends: dict[tuple[int, int], date] = {}
    for day in days.each():
        ends[(day.year, day.month)] = day
    return sorted(ends.values())


def dashboard(
    uow: UnitOfWork,
    days: Days,
    *,
    province: str | None = None,
    provider_code: str | None = None,
) -> Dashboard:
    """The figures of ``days``, of one province and/or one provider if given."""
    if days.count > MAX_DAYS:
        raise InvalidInput(f"a dashboard covers at most {MAX_DAYS} days")
    check_filters(province, provider_code)
    with uow:
        if province is not None and not uow.catalogue.is_province(province):
            raise InvalidInput(f"no province {province!r}; use a two-digit code such as 31")
        provider_id = None
        if provider_code is not None:
            provider_id = uow.catalogue.provider_id_by_code(provider_code)
            if provider_id is None:
                raise InvalidInput(f"no provider {provider_code!r}")
        figures = uow.figures
        by_day = figures.by_day(days, province, provider_id)
        busiest, providers = figures.by_provider(days, province, provider_id, top=TOP_PROVIDERS)
        return Dashboard(
            days=days,
            total=total_of(by_day),
            by_day=by_day,
            by_province=figures.by_province(days, province, provider_id),
            by_provider=busiest,
            providers=providers,
            refreshed_at=figures.refreshed_at(days),
        )


def total_of(lines: list[FigureLine]) -> Tally:
    """The days' lines summed: the dashboard's totals."""
    total = Tally()
    for line in lines:
        total = total.joined(line.tally)
    return total


def scorecards(
    uow: UnitOfWork,
    deployment: Deployment,
    period: str,
    *,
    flagged_by: Thresholds | None = None,
    busiest: int | None = None,
) -> tuple[list[Scorecard], int]:
    """The partners with figures in ``period`` (``YYYY-MM``) — only those ``flagged_by``
    the thresholds if given, the ``busiest`` of them if given — by provider code; and how
    many there are in all."""
    month = Period.parse(period, deployment.timezone)
    with uow:
        lines, count = uow.figures.partner_months(
            month.year, month.month, flagged_by=flagged_by, busiest=busiest
        )
    cards = sorted(
        (Scorecard(line.key, line.name, str(month), line.tally) for line in lines),
        key=lambda card: card.provider_code,
    )
    return cards, count
