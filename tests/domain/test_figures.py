"""The dashboard's and scorecards' rules without a database: days, tallies, merging shards'
lines, a filter's shape, a reports' merge, when a partner is flagged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from vasguard.domain.figures import (
    Days,
    Figure,
    FigureLine,
    Tally,
    check_filters,
    merged_lines,
    utc_offset,
)
from vasguard.domain.money import yuan_decimal
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput
from vasguard.domain.reports import ReportLine, merged
from vasguard.domain.scorecards import Flag, Scorecard, Thresholds


def test_days_end_on_the_local_day_and_a_month_is_its_calendar():
    late = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December in Shanghai
    week = Days.ending(late, "Asia/Shanghai", 7)
    assert (week.first, week.last, week.count) == (date(2026, 11, 25), date(2026, 12, 1), 7)
    assert len(week.each()) == 7
    february = Days.of_month(Period.parse("2028-02"))
    assert (february.first, february.last) == (date(2028, 2, 1), date(2028, 2, 29))
    with pytest.raises(ValueError):
        Days(date(2026, 12, 2), date(2026, 12, 1))
    with pytest.raises(ValueError):
        Days.ending(late, "Asia/Shanghai", 0)
    assert utc_offset("Asia/Shanghai", date(2026, 12, 1)) == timedelta(hours=8)


def test_a_tally_adds_counts_and_amounts_and_gives_rates():
    tally = Tally().plus(Figure.ORDERS, 4).plus(Figure.CONFIRMATIONS, 3)
    tally = tally.plus(Figure.CHARGES, 2, 500).joined(Tally().plus(Figure.CHARGES, 1, 250))
    assert (tally[Figure.ORDERS], tally[Figure.CHARGES], tally.amount(Figure.CHARGES)) == (
        4,
        3,
        750,
    )
    assert tally.confirmation_rate == 0.75 and tally.delivery_rate is None
    assert tally[Figure.REFUNDS] == 0 and yuan_decimal(tally.amount(Figure.CHARGES)) == "7.50"


def test_shards_lines_are_summed_per_key_in_key_order():
    east = [FigureLine("801001", "星云", Tally().plus(Figure.ORDERS, 2))]
    west = [
        FigureLine("801001", "星云", Tally().plus(Figure.ORDERS, 3)),
        FigureLine("700001", "其他", Tally().plus(Figure.ORDERS, 1)),
    ]
    lines = merged_lines([east, west])
    assert [(line.key, line.tally[Figure.ORDERS]) for line in lines] == [
        ("700001", 1),
        ("801001", 5),
    ]


def test_reports_of_shards_are_summed_per_code():
    a = ReportLine("801001", "星云", orders=2, cancellations={"td_code": 1}, charged_fen=200)
    b = ReportLine("801001", "星云", orders=1, cancellations={"td_code": 1, "api": 1})
    [line] = merged([[a], [b]])
    assert (line.orders, line.cancellations, line.charged_fen) == (
        3,
        {"td_code": 2, "api": 1},
        200,
    )


@pytest.mark.parametrize(
    ("province", "provider"),
    [("3\x001", None), ("310", None), ("ab", None), (None, "80\x0010"), (None, "x" * 13)],
)
def test_a_filter_of_the_wrong_shape_is_refused(province, provider):
    with pytest.raises(InvalidInput):
        check_filters(province, provider)


def test_good_filters_pass():
    check_filters("31", "801001")
    check_filters(None, None)


def _card(**counts: int) -> Scorecard:
    tally = Tally({Figure(k): v for k, v in counts.items()}, {})
    return Scorecard("801001", "星云", "2026-11", tally)


def test_a_partner_is_flagged_by_each_threshold_it_crosses_once_it_has_enough_orders():
    limits = Thresholds(min_orders=10)
    quiet = _card(orders=9, confirmations=1)
    assert quiet.flags(limits) == ()  # too few orders to judge
    pushy = _card(orders=10, confirmations=5, reminder_cancels=2, held=100, listing_cancels=6)
    assert pushy.flags(limits) == (
        Flag.LOW_CONFIRMATION,
        Flag.REMINDER_CANCELS,
        Flag.LISTING_CANCELS,
    )
    complained = _card(orders=10, confirmations=10, held=1000, complaints=6)
    assert complained.complaints_per_1000 == 6.0
    assert complained.flags(limits) == (Flag.COMPLAINTS,)
    on_the_line = _card(orders=10, confirmations=6, reminder_cancels=1, held=1000, complaints=5)
    assert on_the_line.flags(limits) == ()  # at a threshold is not past it
    nothing_held = _card(orders=10, confirmations=10, complaints=3, listing_cancels=3)
    assert nothing_held.listing_cancel_rate is None and nothing_held.flags(limits) == ()
