from datetime import UTC, datetime, timedelta

import pytest

from vasguard.domain.clock import FixedClock, parse_instant
from vasguard.domain.money import yuan, yuan_en


@pytest.mark.parametrize(
    ("fen", "text"),
    [(300, "3元"), (50, "0.5元"), (5, "0.05元"), (1050, "10.5元"), (0, "0元"), (199, "1.99元")],
)
def test_fen_shown_as_yuan(fen, text):
    assert yuan(fen) == text


def test_english_amounts_and_non_integer_money_refused():
    assert yuan_en(250) == "CNY 2.5"
    with pytest.raises(TypeError):
        yuan(2.5)


def test_a_time_without_offset_is_in_the_deployment_zone():
    assert parse_instant("2026-11-24T10:00:00") == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert parse_instant("2026-11-24T10:00:00Z") == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert parse_instant("2026-11-24T10:00:00+09:00") == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_bad_times_explain_the_format():
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_instant("tomorrow")


def test_fixed_clock_moves_only_when_told():
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(hours=1))
    assert clock.now() == datetime(2026, 1, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1))
