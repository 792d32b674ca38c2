"""A period's figures per province and per partner: one grouped query each.

Each report is one statement: a ``UNION ALL`` of grouped aggregates — subscriptions (one
pass counting orders, confirmations and endings by cause), complaints, the period's
charges (``ix_charges_period``) and their refunds — joined to the province or provider
it is about. The subscription pass reads the table once rather than needing an index on
each of three instants that the online dialogue would have to maintain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Connection,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)

from vasguard.domain.periods import Period
from vasguard.domain.reports import ReportLine
from vasguard.store.tables import (
    charges,
    complaints,
    providers,
    provinces,
    refunds,
    services,
    subscriptions,
)

_NO_CAUSE = literal(None, String())
_ZERO = literal(0, BigInteger())


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _figures(period: Period, *, by_provider: bool) -> CompoundSelect[Any]:
    """The period's figures as rows (key, metric, cause, n, m, k), grouped by ``key``:
    a province code, or a provider id (``by_provider``: the key is the service's)."""
    s = subscriptions.c
    ordered, confirmed = _within(s.ordered_at, period), _within(s.confirmed_at, period)
    ended = _within(s.ended_at, period)
    cause = case((ended, s.end_cause), else_=_NO_CAUSE)
    provider_of_subscription = services.c.provider_id
    sub_key = provider_of_subscription if by_provider else s.province
    lives = (
        select(
            sub_key.label("key"),
            literal("subscriptions").label("metric"),
            cause.label("cause"),
            _count_if(ordered).label("n"),
            _count_if(confirmed).label("m"),
            _count_if(ended).label("k"),
        )
        .select_from(subscriptions.join(services, services.c.id == s.service_id))
        .where(or_(ordered, confirmed, ended))
        .group_by(sub_key, cause)
    )
    c = complaints.c
    complaint_key = c.provider_id if by_provider else c.province
    opened = (
        select(complaint_key, literal("complaints"), _NO_CAUSE, func.count(), _ZERO, _ZERO)
        .where(_within(c.opened_at, period), complaint_key.is_not(None))
        .group_by(complaint_key)
    )
    charged_from = charges.join(subscriptions, subscriptions.c.id == charges.c.subscription_id)
    charged_from = charged_from.join(services, services.c.id == s.service_id)
    charge_key = provider_of_subscription if by_provider else charges.c.province
    # A plan fee is the operator's, not any partner's: the provider report leaves it out.
    billed = (
        select(
            charge_key,
            literal("charges"),
            _NO_CAUSE,
            func.count(),
            func.coalesce(func.sum(charges.c.amount_fen), 0),
            _ZERO,
        )
        .select_from(charged_from if by_provider else charges)
        .where(charges.c.period == str(period))
        .group_by(charge_key)
    )
    refund_key = provider_of_subscription if by_provider else refunds.c.province
    refunded_from = refunds.join(charges, charges.c.id == refunds.c.charge_id)
    if by_provider:
        refunded_from = refunded_from.join(
            subscriptions, subscriptions.c.id == charges.c.subscription_id
        ).join(services, services.c.id == s.service_id)
    given_back = (
        select(
            refund_key,
            literal("refunds"),
            _NO_CAUSE,
            func.count(),
            func.coalesce(func.sum(refunds.c.amount_fen), 0),
            _ZERO,
        )
        .select_from(refunded_from)
        .where(charges.c.period == str(period))
        .group_by(refund_key)
    )
    return union_all(lives, opened, billed, given_back)


class ReportRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def by_province(self, period: Period) -> list[ReportLine]:
        figures = _figures(period, by_provider=False).subquery("figures")
        statement = select(provinces.c.code, provinces.c.name, *figures.c).join(
            figures, figures.c.key == provinces.c.code
        )
        return _fold(self._conn.execute(statement).all())

    def by_provider(self, period: Period) -> list[ReportLine]:
        figures = _figures(period, by_provider=True).subquery("figures")
        statement = select(providers.c.code, providers.c.name, *figures.c).join(
            figures, figures.c.key == providers.c.id
        )
        return _fold(self._conn.execute(statement).all())


def _fold(rows: Sequence[Any]) -> list[ReportLine]:
    """The grouped rows of each province or provider summed into its line, by code."""
    lines: dict[str, ReportLine] = {}
    for code, name, _key, metric, cause, n, m, k in rows:
        line = lines.get(code) or ReportLine(code, name)
        n, m, k = int(n or 0), int(m or 0), int(k or 0)
        if metric == "subscriptions":
            endings = dict(line.cancellations)
            if cause is not None:
                endings[cause] = endings.get(cause, 0) + k
            line = replace(
                line,
                orders=line.orders + n,
                confirmations=line.confirmations + m,
                cancellations=endings,
            )
        elif metric == "complaints":
            line = replace(line, complaints=n)
        elif metric == "charges":
            line = replace(line, charges=n, charged_fen=m)
        else:
            line = replace(line, refunds=n, refunded_fen=m)
        lines[code] = line
    return [lines[code] for code in sorted(lines)]
