import random
from datetime import UTC, datetime, timedelta

import pytest

from vasguard.domain.catalogue import BillingMode, Service, Subscriber
from vasguard.domain.ordering import OrderRefused, Refusal, allocate_code, check_order, match_reply
from vasguard.domain.subscription import PendingOrder, State, can_move

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SUBSCRIBER = Subscriber(1, "13800138000", "11", "zh", "active")


def service(mode=BillingMode.MONTHLY):
    return Service(7, "80012345", "天气预报", 3, "星云信息", "weather", mode, 300, None, False)


def pending(code, sid=1, ordered=T0):
    return PendingOrder(
        sid,
        7,
        "80012345",
        "天气预报",
        "星云信息",
        300,
        code,
        ordered + timedelta(hours=24),
        3,
        None,
    )


def test_a_monthly_service_not_held_and_not_in_plan_can_be_ordered():
    check_order(SUBSCRIBER, service(), already_held=False, included_in_plan=False)


@pytest.mark.parametrize(
    ("kwargs", "subscriber", "mode", "refusal"),
    [
        (
            {"already_held": True, "included_in_plan": False},
            SUBSCRIBER,
            BillingMode.MONTHLY,
            Refusal.ALREADY_HELD,
        ),
        (
            {"already_held": False, "included_in_plan": True},
            SUBSCRIBER,
            BillingMode.MONTHLY,
            Refusal.INCLUDED_IN_PLAN,
        ),
        (
            {"already_held": False, "included_in_plan": False},
            SUBSCRIBER,
            BillingMode.PER_USE,
            Refusal.NOT_MONTHLY,
        ),
        (
            {"already_held": False, "included_in_plan": False},
            SUBSCRIBER,
            BillingMode.FREE,
            Refusal.NOT_MONTHLY,
        ),
        (
            {"already_held": False, "included_in_plan": False, "withdrawn": True},
            SUBSCRIBER,
            BillingMode.MONTHLY,
            Refusal.SERVICE_WITHDRAWN,
        ),
        (
            {"already_held": False, "included_in_plan": False},
            Subscriber(1, "13800138000", "11", "zh", "suspended"),
            BillingMode.MONTHLY,
            Refusal.SUBSCRIBER_INACTIVE,
        ),
    ],
)
def test_orders_that_must_be_refused(kwargs, subscriber, mode, refusal):
    with pytest.raises(OrderRefused) as caught:
        check_order(subscriber, service(mode), **kwargs)
    assert caught.value.refusal is refusal
    assert caught.value.detail


def test_codes_are_four_digits_and_avoid_open_ones():
    rng = random.Random(3)
    taken = {f"{n}" for n in range(1000, 9999)}
    assert allocate_code(taken, rng) == "9999"
    codes = {allocate_code(set(), rng) for _ in range(200)}
    assert all(len(c) == 4 and c.isdigit() for c in codes)


def test_bare_reply_confirms_the_only_open_request():
    match = match_reply([pending("1234")], None, T0 + timedelta(hours=1))
    assert match.order and match.order.code == "1234" and match.refusal is None


def test_bare_reply_with_two_open_requests_is_ambiguous_and_names_both():
    match = match_reply([pending("1234", 1), pending("5678", 2)], None, T0)
    assert match.order is None and match.refusal is Refusal.SEVERAL_OPEN
    assert {c.code for c in match.candidates} == {"1234", "5678"}


def test_a_code_picks_one_of_several():
    match = match_reply([pending("1234", 1), pending("5678", 2)], "5678", T0)
    assert match.order and match.order.subscription_id == 2


def test_unknown_code_and_nothing_open():
    assert match_reply([pending("1234")], "9999", T0).refusal is Refusal.NO_SUCH_CODE
    assert match_reply([], None, T0).refusal is Refusal.NOTHING_OPEN


def test_window_closes_at_exactly_24_hours():
    order = pending("1234")
    just_before = T0 + timedelta(hours=24) - timedelta(seconds=1)
    assert match_reply([order], "1234", just_before).order == order
    assert match_reply([order], "1234", T0 + timedelta(hours=24)).refusal is Refusal.EXPIRED
    assert match_reply([order], None, T0 + timedelta(hours=25)).refusal is Refusal.EXPIRED


def test_an_expired_request_does_not_make_a_bare_reply_ambiguous():
    old = pending("1111", 1, ordered=T0 - timedelta(hours=30))
    fresh = pending("2222", 2)
    assert match_reply([old, fresh], None, T0).order == fresh


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.PENDING, State.ACTIVE),
        (State.PENDING, State.CANCELLED),
        (State.PENDING, State.EXPIRED),
        (State.ACTIVE, State.CANCELLED),
    ],
)
def test_allowed_transitions(current, target):
    assert can_move(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.ACTIVE, State.PENDING),
        (State.ACTIVE, State.EXPIRED),
        (State.CANCELLED, State.ACTIVE),
        (State.EXPIRED, State.ACTIVE),
        (State.CANCELLED, State.CANCELLED),
    ],
)
def test_forbidden_transitions(current, target):
    assert not can_move(current, target)
