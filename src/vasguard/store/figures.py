"""The daily figures (``domain/figures.py``): recounted set-wise, read a few rows a day.

``recount`` replaces some days' rows in one transaction: a ``DELETE`` of the days, one
``INSERT … SELECT`` of every figure at its finest grain (day, province, provider), then three
more of those rows summed over providers, over provinces, and over both. Nothing
passes through Python; the days are cut from the records by a range on each instant, so a
refresh of two days reads what those days touched, wherever it lies.

Instants are stored as naive UTC: a local day is the instant shifted by the zone's offset,
then truncated — ``date(x, '+480 minutes')`` on SQLite, ``to_char(x + interval, …)`` on
PostgreSQL. The figure definitions are in ``domain/figures.py``; this module is their SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Interval,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)

from vasguard.domain.figures import (
    ALL_PROVIDERS,
    ALL_PROVINCES,
    CANCELLING_CAUSES,
    LISTING_CAUSES,
    NO_PROVIDER,
    WITH_AMOUNT,
    Days,
    Figure,
    FigureLine,
    Tally,
)
from vasguard.store.locks import holding
from vasguard.store.tables import (
    charges,
    complaints,
    daily_figures,
    listings,
    messages,
    providers,
    provinces,
    refunds,
    services,
    subscriptions,
)

f = daily_figures.c
s = subscriptions.c
_HELD = f.figure == Figure.HELD.value
_NOT_HELD = f.figure != Figure.HELD.value
_COLUMNS = ["day", "province", "provider_id", "figure", "count", "amount_fen", "refreshed_at"]


def _local_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


class FigureRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- the figures job ------------------------------------------------------------------

    @contextmanager
    def recounting(self) -> Iterator[bool]:
        """Hold the figures for one recount; yields whether no other process held them
        (two recounts at once would write the same rows)."""
        with holding(self._conn.engine, "figures") as taken:
            yield taken

    def recount(
        self, days: Days, timezone: str, offset: timedelta, held_on: Sequence[date], at: datetime
    ) -> int:
        """Replace the figures of ``days``; ``held_on``: the days (within them) whose
        ``held`` is counted. The rows written at the finest grain."""
        start = _local_start(days.first, timezone)
        end = _local_start(days.last + timedelta(days=1), timezone)
        shifted = _Days(self._conn.dialect.name, offset, start, end, at)
        self._conn.execute(delete(daily_figures).where(_in(days)))
        arms = shifted.arms() + [shifted.held(d, _local_start(d, timezone)) for d in held_on]
        self._conn.execute(insert(daily_figures).from_select(_COLUMNS, union_all(*arms)))
        finest = (_in(days), f.province != ALL_PROVINCES, f.provider_id != ALL_PROVIDERS)
        written = self._conn.scalar(select(func.count()).where(*finest))
        every_province = literal(ALL_PROVINCES, String())
        every_provider = literal(ALL_PROVIDERS, Integer())
        for province, provider in (
            (f.province, every_provider),
            (every_province, f.provider_id),
            (every_province, every_provider),
        ):
            summed = (
                select(
                    f.day,
                    province,
                    provider,
                    f.figure,
                    func.sum(f.count),
                    func.sum(f.amount_fen),
                    literal(at, daily_figures.c.refreshed_at.type),
                )
                .where(*finest)
                .group_by(f.day, province, provider, f.figure)
            )
            self._conn.execute(insert(daily_figures).from_select(_COLUMNS, summed))
        return int(written or 0)

    # --- reading ---------------------------------------------------------------------------

    def by_day(self, days: Days, province: str | None, provider_id: int | None) -> list[FigureLine]:
        """One line per day that has figures, of one province and provider or their sums."""
        rows = self._conn.execute(
            select(f.day, f.day, *_sums(f))
            .where(*self._grain(days, province, provider_id), _NOT_HELD)
            .group_by(f.day)
            .order_by(f.day)
        ).all()
        return _lines(rows)

    def by_province(
        self, days: Days, province: str | None, provider_id: int | None
    ) -> list[FigureLine]:
        return self._per(
            f.province,
            provinces,
            provinces.c.code,
            f.province == province if province else f.province != ALL_PROVINCES,
            f.provider_id == (ALL_PROVIDERS if provider_id is None else provider_id),
            _in(days),
            _NOT_HELD,
        )

    def by_provider(
        self, days: Days, province: str | None, provider_id: int | None
    ) -> list[FigureLine]:
        """One line per provider (the figures of none — listings, plan fees — left out)."""
        return self._per(
            f.provider_id,
            providers,
            providers.c.id,
            f.province == (province or ALL_PROVINCES),
            f.provider_id == provider_id if provider_id is not None else f.provider_id > 0,
            _in(days),
            _NOT_HELD,
        )

    def partner_months(self, days: Days) -> list[FigureLine]:
        """Each partner's figures summed over ``days`` (a month), but ``held`` as counted on
        the latest of them that has it."""
        partners = select(providers.c.id).where(providers.c.kind == "partner")
        partner = (f.province == ALL_PROVINCES, f.provider_id.in_(partners))
        held_day = (select(func.max(f.day)).where(_in(days), _HELD)).scalar_subquery()
        named = (f.provider_id, providers, providers.c.id)
        summed = self._per(*named, *partner, _in(days), _NOT_HELD)
        held = self._per(*named, *partner, _HELD, f.day == held_day)
        merged: dict[str, FigureLine] = {}
        for line in [*summed, *held]:  # their figures are disjoint: held, and all the others
            known = merged.get(line.key)
            tally = line.tally
            if known is not None:
                tally = Tally(known.tally.counts | tally.counts, known.tally.fen | tally.fen)
            merged[line.key] = FigureLine(line.key, line.name, tally)
        return list(merged.values())

    def _per(
        self, key: Any, named: Table, named_key: Any, *where: ColumnElement[bool]
    ) -> list[FigureLine]:
        """Rows of ``where`` summed per province or provider (``key``, a row of ``named``
        by ``named_key``), named."""
        rows = self._conn.execute(
            select(named.c.code, named.c.name, *_sums(f))
            .join(named, named_key == key)
            .where(*where)
            .group_by(named.c.code, named.c.name)
            .order_by(named.c.code)
        ).all()
        return _lines(rows)

    def refreshed_at(self, days: Days) -> datetime | None:
        """When ``days`` were last recounted: read from their sum over every province and
        provider, which each recount writes with the rows it sums (a few rows a day)."""
        latest: datetime | None = self._conn.scalar(
            select(func.max(f.refreshed_at)).where(*self._grain(days, None, None))
        )
        return latest

    def _grain(
        self, days: Days, province: str | None, provider_id: int | None
    ) -> list[ColumnElement[bool]]:
        return [
            _in(days),
            f.province == (province or ALL_PROVINCES),
            f.provider_id == (ALL_PROVIDERS if provider_id is None else provider_id),
        ]


def _in(days: Days) -> ColumnElement[bool]:
    return f.day.between(days.first.isoformat(), days.last.isoformat())


# Each figure's sum of counts (then of fen, for those with an amount) as columns of one
# row per key: a provider's 30 days come back as one row, not one per figure, and NULL
# says the figure has no rows. At 5,400 partners that is 5,400 rows to fold, not 40,000.
_COUNTED = list(Figure)
_PRICED = [figure for figure in Figure if figure in WITH_AMOUNT]


def _sums(rows: Any) -> list[ColumnElement[Any]]:
    """``_COUNTED``'s counts, then ``_PRICED``'s fen, summed from the ``figure``, ``count``
    and ``amount_fen`` columns of ``rows``."""
    sums: list[ColumnElement[Any]] = [
        func.sum(case((rows.figure == each.value, rows.count))) for each in _COUNTED
    ]
    return sums + [func.sum(case((rows.figure == each.value, rows.amount_fen))) for each in _PRICED]


def _lines(rows: Any) -> list[FigureLine]:
    """(key, name, ``_sums``…) rows, one line each, in row order."""
    lines = []
    for key, name, *sums in rows:
        counts = {
            figure: int(n) for figure, n in zip(_COUNTED, sums, strict=False) if n is not None
        }
        fen = {
            figure: int(amount)
            for figure, amount in zip(_PRICED, sums[len(_COUNTED) :], strict=True)
            if amount
        }
        lines.append(FigureLine(key, name, Tally(counts, fen)))
    return lines


class _Days:
    """The figure queries of one window of instants ``[start, end)``, bucketed by local day."""

    def __init__(
        self, dialect: str, offset: timedelta, start: datetime, end: datetime, at: datetime
    ) -> None:
        self._dialect = dialect
        self._offset = offset
        self._start, self._end = start, end
        self._at = literal(at, daily_figures.c.refreshed_at.type)

    def _day(self, column: Any) -> ColumnElement[str]:
        if self._dialect == "postgresql":
            shifted = column + literal(self._offset, Interval())
            return func.to_char(shifted, "YYYY-MM-DD")
        minutes = int(self._offset.total_seconds() // 60)
        return func.date(column, f"{minutes:+d} minutes")

    def _within(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self._start, column < self._end)

    def _counted(
        self,
        figure: Figure,
        instant: Any,
        province: Any,
        provider: Any,
        source: Any,
        *where: ColumnElement[bool],
        amount: Any = None,
    ) -> Select[Any]:
        day = self._day(instant)
        return (
            select(
                day,
                province,
                provider,
                literal(figure.value, String()),
                func.count(),
                func.coalesce(func.sum(amount), 0)
                if amount is not None
                else literal(0, BigInteger()),
                self._at,
            )
            .select_from(source)
            .where(self._within(instant), *where)
            .group_by(day, province, provider)
        )

    def arms(self) -> list[Select[Any]]:
        provider = services.c.provider_id
        lives = subscriptions.join(services, services.c.id == s.service_id)
        cancelling = s.end_cause.in_([c.value for c in CANCELLING_CAUSES])
        never_charged = ~exists().where(charges.c.subscription_id == s.id)
        reminded = lives.join(messages, messages.c.id == s.reminder_mt_id)
        charged_from = charges.outerjoin(
            subscriptions, s.id == charges.c.subscription_id
        ).outerjoin(services, services.c.id == s.service_id)
        charge_provider = func.coalesce(provider, NO_PROVIDER)
        refunded_from = (
            refunds.join(charges, charges.c.id == refunds.c.charge_id)
            .outerjoin(subscriptions, s.id == charges.c.subscription_id)
            .outerjoin(services, services.c.id == s.service_id)
        )
        return [
            self._counted(Figure.ORDERS, s.ordered_at, s.province, provider, lives),
            self._counted(Figure.CONFIRMATIONS, s.confirmed_at, s.province, provider, lives),
            self._counted(
                Figure.CANCELLATIONS, s.ended_at, s.province, provider, lives, cancelling
            ),
            self._counted(
                Figure.LISTING_CANCELS,
                s.ended_at,
                s.province,
                provider,
                lives,
                s.end_cause.in_([c.value for c in LISTING_CAUSES]),
            ),
            self._counted(
                Figure.REMINDER_CANCELS,
                s.ended_at,
                s.province,
                provider,
                lives,
                cancelling,
                s.reminder_mt_id.is_not(None),
                never_charged,
            ),
            self._counted(
                Figure.REMINDERS_SENT,
                s.reminder_queued_at,
                s.province,
                provider,
                reminded,
                messages.c.sent_at.is_not(None),
            ),
            self._counted(
                Figure.REMINDERS_DELIVERED,
                s.reminder_queued_at,
                s.province,
                provider,
                reminded,
                messages.c.status == "delivered",
            ),
            self._counted(
                Figure.LISTINGS,
                listings.c.created_at,
                listings.c.province,
                literal(NO_PROVIDER, Integer()),
                listings,
            ),
            self._counted(
                Figure.COMPLAINTS,
                complaints.c.opened_at,
                complaints.c.province,
                func.coalesce(complaints.c.provider_id, NO_PROVIDER),
                complaints,
            ),
            self._counted(
                Figure.CHARGES,
                charges.c.created_at,
                charges.c.province,
                charge_provider,
                charged_from,
                amount=charges.c.amount_fen,
            ),
            self._counted(
                Figure.REFUNDS,
                refunds.c.created_at,
                refunds.c.province,
                charge_provider,
                refunded_from,
                amount=refunds.c.amount_fen,
            ),
        ]

    def held(self, day: date, day_start: datetime) -> Select[Any]:
        """Subscriptions live at the end of local ``day`` (which starts at ``day_start``)."""
        end = day_start + timedelta(days=1)
        live = and_(s.confirmed_at < end, or_(s.ended_at.is_(None), s.ended_at >= end))
        provider = services.c.provider_id
        return (
            select(
                literal(day.isoformat(), String()),
                s.province,
                provider,
                literal(Figure.HELD.value, String()),
                func.count(),
                literal(0, BigInteger()),
                self._at,
            )
            .select_from(subscriptions.join(services, services.c.id == s.service_id))
            .where(live)
            .group_by(s.province, provider)
        )
