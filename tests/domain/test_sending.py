"""The sending window, without a database: half-open, local wall time, DST-safe."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.domain.sending import in_window, next_window_opening, send_after

DAY = (time(8, 0), time(22, 0))
NIGHT = (time(22, 0), time(6, 0))


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        (time(7, 59, 59), False),
        (time(8, 0), True),
        (time(12, 0), True),
        (time(21, 59), True),
        (time(21, 59, 59), True),
        (time(22, 0), False),
        (time(22, 1), False),
        (time(0, 0), False),
    ],
)
def test_default_window_is_half_open(local, inside):
    assert in_window(local, DAY) is inside


@pytest.mark.parametrize(
    ("local", "inside"),
    [(time(21, 59), False), (time(22, 0), True), (time(3, 0), True), (time(6, 0), False)],
)
def test_a_window_may_span_midnight(local, inside):
    assert in_window(local, NIGHT) is inside


def test_an_empty_span_means_always():
    assert in_window(time(3, 0), (time(0, 0), time(0, 0)))


@pytest.mark.parametrize(
    ("at_utc", "opening_utc"),
    [
        # 22:01 Shanghai (UTC+8, no DST) → 08:00 next day
        (datetime(2026, 11, 24, 14, 1, tzinfo=UTC), datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        # 02:00 Shanghai → 08:00 the same local day
        (datetime(2026, 11, 24, 18, 0, tzinfo=UTC), datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        # exactly 08:00 → now
        (datetime(2026, 11, 25, 0, 0, tzinfo=UTC), datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
        # 23:30 on 31 December → 08:00 on 1 January
        (datetime(2026, 12, 31, 15, 30, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_opening_in_shanghai(at_utc, opening_utc):
    assert next_window_opening(at_utc, "Asia/Shanghai", DAY) == opening_utc


def test_send_after_is_now_inside_and_the_opening_outside():
    at_2159 = datetime(2026, 11, 24, 13, 59, tzinfo=UTC)
    at_2200 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert send_after(at_2159, "Asia/Shanghai", DAY) == at_2159
    assert send_after(at_2200, "Asia/Shanghai", DAY) == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_openings_follow_local_wall_time_across_dst():
    """New York springs forward on 8 March 2026: 08:00 local is 13:00 UTC before, 12:00 after."""
    zone = "America/New_York"
    before = next_window_opening(datetime(2026, 3, 7, 4, 0, tzinfo=UTC), zone, DAY)
    after = next_window_opening(datetime(2026, 3, 8, 4, 0, tzinfo=UTC), zone, DAY)
    assert before == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    assert after == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    # 22:30 EDT on the autumn change day → 08:00 EST (13:00 UTC) next morning
    late = next_window_opening(datetime(2026, 11, 1, 2, 30, tzinfo=UTC), zone, DAY)
    assert late == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kolkata"]),
)
def test_send_after_is_never_earlier_and_always_inside(naive, zone):
    at = naive.replace(tzinfo=UTC)
    due = send_after(at, zone, DAY)
    assert due >= at
    assert in_window(due.astimezone(ZoneInfo(zone)).time(), DAY)
    assert due - at <= timedelta(hours=11)
