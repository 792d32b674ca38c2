"""Plan rules without a database: when an order takes effect, and what is refused."""

from datetime import UTC, datetime

import pytest

from vasguard.domain.plans import (
    Plan,
    PlanRefusal,
    PlanRefused,
    SubscriberPlan,
    check_plan_order,
    first_of_next_month,
    month_start,
)

P58 = Plan(1, "P58", "58元套餐", 5800)
P88 = Plan(2, "P88", "88元套餐", 8800)
DEC_1 = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December 00:00 in Shanghai


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 11, 24, 2, 0, tzinfo=UTC), DEC_1),
        # 23:59 on 30 November in Shanghai is still November there
        (datetime(2026, 11, 30, 15, 59, tzinfo=UTC), DEC_1),
        # 00:00 on 1 December in Shanghai is December there, though November in UTC
        (DEC_1, datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
        # December rolls over into January of the next year
        (datetime(2026, 12, 15, 0, 0, tzinfo=UTC), datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),
    ],
)
def test_a_plan_takes_effect_on_the_first_of_next_local_month(at, expected):
    assert first_of_next_month(at, "Asia/Shanghai") == expected


def test_month_start_is_local():
    assert month_start(DEC_1, "Asia/Shanghai") == DEC_1
    assert month_start(datetime(2026, 12, 20, tzinfo=UTC), "Asia/Shanghai") == DEC_1


def test_first_of_next_month_follows_local_dst():
    """In New York, midnight of 1 April is 04:00 UTC (EDT), of 1 March 05:00 UTC (EST)."""
    zone = "America/New_York"
    assert first_of_next_month(datetime(2026, 3, 10, tzinfo=UTC), zone) == datetime(
        2026, 4, 1, 4, 0, tzinfo=UTC
    )
    assert first_of_next_month(datetime(2026, 2, 10, tzinfo=UTC), zone) == datetime(
        2026, 3, 1, 5, 0, tzinfo=UTC
    )


def held(plan, start, end=None):
    return SubscriberPlan(10 + plan.id, plan.id, start, end)


JAN = datetime(2026, 1, 1, tzinfo=UTC)


def test_ordering_the_plan_already_held_is_refused():
    with pytest.raises(PlanRefused) as refused:
        check_plan_order(P58, DEC_1, held(P58, JAN), None)
    assert refused.value.refusal is PlanRefusal.ALREADY_ON_PLAN


def test_ordering_the_plan_already_ordered_is_refused():
    with pytest.raises(PlanRefused):
        check_plan_order(P88, DEC_1, held(P58, JAN, DEC_1), held(P88, DEC_1))


def test_changing_back_before_a_change_takes_effect_is_allowed():
    check_plan_order(P58, DEC_1, held(P58, JAN, DEC_1), held(P88, DEC_1))
    check_plan_order(P88, DEC_1, held(P58, JAN), None)
    check_plan_order(P58, DEC_1, None, None)


def test_a_plan_ending_by_then_does_not_count_as_held():
    check_plan_order(P58, DEC_1, held(P58, JAN, DEC_1), None)


def test_notices_name_the_plan_without_repeating_the_word_plan():
    assert P58.notice_name == "58元"
    assert Plan(3, "X", "套餐", 0).notice_name == "套餐"
    assert Plan(4, "Y", "Global", 0).notice_name == "Global"
