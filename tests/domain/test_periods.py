"""Billing periods without a database: months in the deployment zone, and their limits."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.domain.periods import FIRST_YEAR, LAST_YEAR, Period
from vasguard.domain.refusals import InvalidInput


def test_a_period_is_a_local_month():
    nov = Period.parse("2026-11")
    assert nov.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert nov.end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert str(nov) == "2026-11" and nov.days == 30


def test_the_period_of_an_instant_is_the_local_month_it_falls_in():
    # 1 December 07:00 in Shanghai is still 30 November in UTC.
    assert str(Period.of(datetime(2026, 11, 30, 23, tzinfo=UTC))) == "2026-12"
    assert str(Period.of(datetime(2026, 11, 30, 23, tzinfo=UTC), "UTC")) == "2026-11"


def test_next_crosses_the_year():
    assert str(Period.parse("2026-12").next()) == "2027-01"


@pytest.mark.parametrize("text", ["junk", "2026-13", "2026-00", "26-11", "2026-1", ""])
def test_malformed_periods_are_refused(text):
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        Period.parse(text)


@pytest.mark.parametrize("text", ["0001-01", "1969-12", "3000-01", "9999-12"])
def test_periods_outside_the_ledger_s_years_are_refused(text):
    with pytest.raises(InvalidInput, match="1970-01 to 2999-12"):
        Period.parse(text)


@given(
    st.integers(FIRST_YEAR, LAST_YEAR),
    st.integers(1, 12),
    st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "UTC", "Pacific/Kiritimati"]),
)
def test_every_period_has_instants_and_the_next_begins_where_it_ends(year, month, zone):
    period = Period(year, month, zone)
    assert period.start < period.end
    assert Period.of(period.start, zone) == period
    if (year, month) != (LAST_YEAR, 12):
        assert period.next().start == period.end
