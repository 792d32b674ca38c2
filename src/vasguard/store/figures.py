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
    update,
)

from vasguard.domain.figures import (
    ALL_PROVIDERS,
    ALL_PROVINCES,
    CANCELLING_CAUSES,
    LISTING_CAUSES,
    NO_PROVIDER,
    Days,
    Figure,
    FigureLine,
    Tally,
)
from vasguard.domain.scorecards import Thresholds
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
# Each figure's column in daily_figures, and the amounts of the two that have one.
_COUNTED: list[Figure] = [figure for figure in Figure if figure is not Figure.HELD]
_AMOUNTS = {Figure.CHARGES: "charged_fen", Figure.REFUNDS: "refunded_fen"}
_WIDE = [figure.value for figure in _COUNTED] + list(_AMOUNTS.values()) + ["held"]
_KEY = ["day", "province", "provider_id"]
_MONTH = "M"  # a month's row: day "M2026-11" (never inside a range of YYYY-MM-DD days)
_ROLLING = "L"  # the last n days to a day: "L030261201", the 30 days to 2026-12-01
ROLLING = (7, 30, 90)  # the dashboard's preset spans


def _local_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def month_key(year: int, month: int) -> str:
    return f"{_MONTH}{year:04d}-{month:02d}"


def rolling_key(span: int, last: date) -> str:
    return f"{_ROLLING}{span:03d}{last:%y%m%d}"


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
        """Replace the figures of ``days`` and the month rows of the months they touch;
        ``held_on``: the days (within them) whose ``held`` is counted. The rows written at
        the finest grain."""
        start = _local_start(days.first, timezone)
        end = _local_start(days.last + timedelta(days=1), timezone)
        shifted = _Days(self._conn.dialect.name, offset, start, end, at)
        months = sorted({(d.year, d.month) for d in days.each()})
        self._conn.execute(
            delete(daily_figures).where(or_(_in(days), f.day.in_([month_key(*m) for m in months])))
        )
        narrow = union_all(
            *shifted.arms(), *(shifted.held(d, _local_start(d, timezone)) for d in held_on)
        ).subquery("narrow")
        stamp = literal(at, daily_figures.c.refreshed_at.type)
        self._conn.execute(
            insert(daily_figures).from_select(
                [*_KEY, *_WIDE, "refreshed_at"],
                select(
                    narrow.c.day, narrow.c.province, narrow.c.provider_id, *_pivot(narrow), stamp
                ).group_by(narrow.c.day, narrow.c.province, narrow.c.provider_id),
            )
        )
        finest = (_in(days), f.province != ALL_PROVINCES, f.provider_id != ALL_PROVIDERS)
        written = self._conn.scalar(select(func.count()).where(*finest))
        every_province = literal(ALL_PROVINCES, String())
        every_provider = literal(ALL_PROVIDERS, Integer())
        for province, provider in (
            (f.province, every_provider),
            (every_province, f.provider_id),
            (every_province, every_provider),
        ):
            self._insert_sums(f.day, province, provider, stamp, *finest)
        for year, month in months:
            self._month(year, month, stamp)
        self._rolling(days.last, stamp)
        return int(written or 0)

    def _rolling(self, last: date, stamp: Any) -> None:
        """Each provider's last ``ROLLING`` days to ``last`` over every province: the
        dashboard's partner table for those spans reads a row per provider, not one per
        provider and day (5,400 partners × 90 days)."""
        self._conn.execute(delete(daily_figures).where(f.day.like(f"{_ROLLING}%")))
        for span in ROLLING:
            first = last - timedelta(days=span - 1)
            self._insert_sums(
                literal(rolling_key(span, last), String()),
                f.province,
                f.provider_id,
                stamp,
                f.day.between(first.isoformat(), last.isoformat()),
                f.province == ALL_PROVINCES,
                f.provider_id > 0,
            )

    def _insert_sums(
        self, day: Any, province: Any, provider: Any, stamp: Any, *where: ColumnElement[bool]
    ) -> None:
        summed = (
            select(day, province, provider, *(func.sum(f[c]) for c in _WIDE), stamp)
            .where(*where)
            .group_by(day, province, provider)
        )
        self._conn.execute(
            insert(daily_figures).from_select([*_KEY, *_WIDE, "refreshed_at"], summed)
        )

    def _month(self, year: int, month: int, stamp: Any) -> None:
        """Each provider's month over every province (and every provider's): its days
        summed, but ``held`` as counted on the month's latest day that has it."""
        key = month_key(year, month)
        in_month = f.day.like(f"{year:04d}-{month:02d}-%")
        self._insert_sums(
            literal(key, String()),
            f.province,
            f.provider_id,
            stamp,
            in_month,
            f.province == ALL_PROVINCES,
        )
        latest = daily_figures.alias("latest")
        held_day = (
            select(func.max(latest.c.day))
            .where(latest.c.day.like(f"{year:04d}-{month:02d}-%"), latest.c.held.is_not(None))
            .scalar_subquery()
        )
        held = (
            select(latest.c.held)
            .where(
                latest.c.day == held_day,
                latest.c.province == ALL_PROVINCES,
                latest.c.provider_id == f.provider_id,
            )
            .scalar_subquery()
        )
        self._conn.execute(update(daily_figures).where(f.day == key).values(held=held))

    # --- reading ---------------------------------------------------------------------------

    def by_day(self, days: Days, province: str | None, provider_id: int | None) -> list[FigureLine]:
        """One line per day that has figures, of one province and provider or their sums."""
        rows = self._conn.execute(
            select(f.day, f.day, *_summed())
            .where(*self._grain(days, province, provider_id))
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
        )

    def by_provider(
        self, days: Days, province: str | None, provider_id: int | None, *, top: int
    ) -> tuple[list[FigureLine], int]:
        """The ``top`` providers by orders (the figures of none — listings, plan fees — left
        out), and how many have figures: ranked in SQL, so thousands of partners cost a
        sort in the database, not thousands of lines here."""
        span = _in(days)
        if province is None and provider_id is None and days.count in ROLLING:
            rolled = f.day == rolling_key(days.count, days.last)
            if self._conn.scalar(select(f.day).where(rolled).limit(1)) is not None:
                span = rolled
        where = (
            f.province == (province or ALL_PROVINCES),
            f.provider_id == provider_id if provider_id is not None else f.provider_id > 0,
            span,
        )
        lines = self._per(f.provider_id, providers, providers.c.id, *where, busiest=top)
        count = self._conn.scalar(select(func.count(f.provider_id.distinct())).where(*where))
        return lines, int(count or 0)

    def partner_months(
        self,
        year: int,
        month: int,
        *,
        flagged_by: Thresholds | None = None,
        busiest: int | None = None,
    ) -> tuple[list[FigureLine], int]:
        """Partners' months from their month rows (``held`` included) — those
        ``flagged_by`` the thresholds if given — the ``busiest`` by orders if given; and how
        many there are in all."""
        partners = select(providers.c.id).where(providers.c.kind == "partner")
        where = [
            f.day == month_key(year, month),
            f.province == ALL_PROVINCES,
            f.provider_id.in_(partners),
        ]
        if flagged_by is not None:
            where.append(_flagged(flagged_by))
        lines = self._per(
            f.provider_id, providers, providers.c.id, *where, held=True, busiest=busiest
        )
        count = self._conn.scalar(select(func.count()).select_from(daily_figures).where(*where))
        return lines, int(count or 0)

    def _per(
        self,
        key: Any,
        named: Table,
        named_key: Any,
        *where: ColumnElement[bool],
        held: bool = False,
        busiest: int | None = None,
    ) -> list[FigureLine]:
        """Rows of ``where`` summed per province or provider (``key``, a row of ``named``
        by ``named_key``), named; by code, or the ``busiest`` by orders first. Summed by
        ``key`` first and named after, so the names join the few sums, not every row."""
        summed = select(key.label("key"), *_summed(held=held)).where(*where).group_by(key)
        if busiest is not None:
            summed = summed.order_by(func.sum(f.orders).desc(), key).limit(busiest)
        sums = summed.subquery("sums")
        statement = select(named.c.code, named.c.name, *list(sums.c)[1:]).join(
            sums, named_key == sums.c.key
        )
        if busiest is None:
            statement = statement.order_by(named.c.code)
        else:
            statement = statement.order_by(sums.c.orders.desc(), named.c.code)
        return _lines(self._conn.execute(statement).all())

    def refreshed_at(self, days: Days) -> datetime | None:
        """When ``days`` were last recounted: read from their sum over every province and
        provider, which each recount writes with the rows it sums (a row a day)."""
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


def _flagged(limits: Thresholds) -> ColumnElement[bool]:
    """``Scorecard.flags`` (``domain/scorecards.py``, the rule) restated over a month row,
    so a month of thousands of partners is narrowed to the flagged ones in the database;
    ``tests/test_figures.py`` holds the two together. A rate with no base is no flag."""
    held = func.coalesce(f.held, 0)
    return and_(
        f.orders >= limits.min_orders,
        or_(
            f.confirmations < limits.min_confirmation_rate * f.orders,
            f.reminder_cancels > limits.max_reminder_cancel_rate * f.confirmations,
            and_(held > 0, f.listing_cancels > limits.max_listing_cancel_rate * held),
            and_(held > 0, 1000 * f.complaints > limits.max_complaints_per_1000 * held),
        ),
    )


def _in(days: Days) -> ColumnElement[bool]:
    return f.day.between(days.first.isoformat(), days.last.isoformat())


def _pivot(narrow: Any) -> list[ColumnElement[Any]]:
    """The narrow rows (one per figure) of a key as its wide columns, in ``_WIDE`` order."""
    c = narrow.c

    def total(figure: Figure, column: Any) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((c.figure == figure.value, column))), 0)

    held = func.sum(case((c.figure == Figure.HELD.value, c.count)))
    return [
        *(total(figure, c.count) for figure in _COUNTED),
        *(total(figure, c.amount_fen) for figure in _AMOUNTS),
        held,
    ]


def _summed(*, held: bool = False) -> list[ColumnElement[Any]]:
    """The wide columns summed, under their names (``held`` only where asked: a day's is
    not a month's)."""
    columns = [func.sum(f[name]).label(name) for name in _WIDE[:-1]]
    last = func.sum(f.held) if held else literal(None, BigInteger())
    return [*columns, last.label("held")]


def _lines(rows: Any) -> list[FigureLine]:
    """(key, name, ``_summed``…) rows, one line each, in row order."""
    lines = []
    for key, name, *sums in rows:
        by_column = dict(zip(_WIDE, sums, strict=True))
        counts: dict[Figure, int] = {
            figure: int(by_column[figure.value]) for figure in _COUNTED if by_column[figure.value]
        }
        if by_column["held"] is not None:
            counts[Figure.HELD] = int(by_column["held"])
        fen = {
            figure: int(by_column[column])
            for figure, column in _AMOUNTS.items()
            if by_column[column]
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
                day.label("day"),
                province.label("province"),
                provider.label("provider_id"),
                literal(figure.value, String()).label("figure"),
                func.count().label("count"),
                (
                    func.coalesce(func.sum(amount), 0)
                    if amount is not None
                    else literal(0, BigInteger())
                ).label("amount_fen"),
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
