"""The charging policy, without a database: the reference semantics of the bill run."""

from datetime import UTC, datetime, timedelta

import pytest

from vasguard.domain.charging import (
    Charged,
    ChargingPolicy,
    ChunkCounts,
    FirstMonth,
    Kind,
    NotBillableYet,
    Owed,
    Reminder,
    Skip,
    SubscriptionFacts,
    Tally,
    assess,
    check_run_time,
    first_charge_due_at,
    first_month_amount,
    plan_fee_owed,
    policy_from_json,
    policy_json,
)
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput

NOV = Period.parse("2026-11")
DAY = timedelta(days=1)
LEAD = ChargingPolicy()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_period_is_a_local_calendar_month():
    assert NOV.start == utc(2026, 10, 31, 16)
    assert NOV.end == utc(2026, 11, 30, 16)
    assert NOV.days == 30
    assert NOV.day_start(25) == utc(2026, 11, 24, 16)
    assert str(NOV) == "2026-11"
    assert Period.parse("2027-02").days == 28
    assert Period.parse("2026-11", "UTC").start == utc(2026, 11, 1)
    assert NOV.day_of(utc(2026, 11, 24, 16)) == 25
    assert NOV.day_of(utc(2026, 11, 24, 15, 59, 59)) == 24


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026/11", ""])
def test_malformed_periods_are_refused(text):
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse(text)


def test_first_charge_is_due_a_lead_time_after_the_reminder_and_never_before_confirmation():
    confirmed = utc(2026, 11, 24, 2)
    sent = Reminder(utc(2026, 11, 24, 3), delivered_at=utc(2026, 11, 24, 5))
    assert first_charge_due_at(confirmed, sent, exempt=False, policy=LEAD) == utc(2026, 11, 25, 3)
    assert first_charge_due_at(confirmed, None, exempt=False, policy=LEAD) is None
    assert first_charge_due_at(confirmed, Reminder(None), exempt=False, policy=LEAD) is None
    assert first_charge_due_at(confirmed, None, exempt=True, policy=LEAD) == confirmed
    short = ChargingPolicy(lead_time=timedelta(0))
    early = Reminder(utc(2026, 11, 24, 1))
    assert first_charge_due_at(confirmed, early, exempt=False, policy=short) == confirmed
    strict = ChargingPolicy(require_delivery_receipt=True)
    assert first_charge_due_at(confirmed, sent, exempt=False, policy=strict) == utc(2026, 11, 25, 5)
    undelivered = Reminder(utc(2026, 11, 24, 3))
    assert first_charge_due_at(confirmed, undelivered, exempt=False, policy=strict) is None


def test_first_month_amounts():
    due = NOV.day_start(25) + timedelta(hours=10)
    assert first_month_amount(300, due, NOV, FirstMonth.FULL) == 300
    assert first_month_amount(300, due, NOV, FirstMonth.FREE) == 0
    assert first_month_amount(300, due, NOV, FirstMonth.PRORATED) == 60
    assert first_month_amount(300, NOV.start, NOV, FirstMonth.PRORATED) == 300
    assert first_month_amount(50, NOV.end - timedelta(seconds=1), NOV, FirstMonth.PRORATED) == 1
    assert first_month_amount(29, NOV.end - timedelta(seconds=1), NOV, FirstMonth.PRORATED) == 0


def facts(**overrides):
    base = dict(
        confirmed_at=utc(2026, 11, 24, 2),
        ended_at=None,
        billing_mode="monthly",
        price_fen=300,
        exempt=False,
        group_paid=False,
        reminder=Reminder(utc(2026, 11, 24, 2)),
    )
    return SubscriptionFacts(**(base | overrides))


DUE = utc(2026, 11, 25, 2)


@pytest.mark.parametrize(
    ("overrides", "run_at", "expected"),
    [
        ({}, DUE, Owed(Kind.FIRST, 300)),
        ({}, DUE - timedelta(seconds=1), Skip.NOT_DUE),
        ({"confirmed_at": None}, DUE, Skip.NOT_CONFIRMED),
        ({"billing_mode": "per_use"}, DUE, Skip.NO_MONTHLY_FEE),
        ({"price_fen": 0}, DUE, Skip.NO_MONTHLY_FEE),
        ({"group_paid": True}, DUE, Skip.GROUP_PAID),
        ({"reminder": None}, DUE, Skip.AWAITING_REMINDER),
        ({"reminder": None, "exempt": True}, DUE, Owed(Kind.FIRST, 300)),
        ({"ended_at": DUE - timedelta(seconds=1)}, DUE, Skip.CANCELLED_BEFORE_FIRST_CHARGE),
        ({"ended_at": DUE + timedelta(seconds=1)}, DUE, Owed(Kind.FIRST, 300)),
        ({"ended_at": NOV.start}, DUE, Skip.ENDED),
        ({"complaint_open": True}, DUE, Skip.HELD),
        ({"plan_cover": ((utc(2026, 1, 1), None),)}, DUE, Skip.IN_PLAN),
        ({"plan_cover": ((NOV.end, None),)}, NOV.end + DAY, Owed(Kind.FIRST, 300)),
        (
            {"confirmed_at": utc(2026, 10, 1), "reminder": Reminder(utc(2026, 10, 1))},
            NOV.start,
            Owed(Kind.RENEWAL, 300),
        ),
        ({"reminder": Reminder(NOV.end - DAY)}, NOV.end + DAY, Skip.NOT_DUE),
    ],
)
def test_assess(overrides, run_at, expected):
    assert assess(facts(**overrides), NOV, run_at, LEAD) == expected


def test_receipts_required():
    strict = ChargingPolicy(require_delivery_receipt=True)
    assert assess(facts(), NOV, DUE, strict) == Skip.REMINDER_NOT_DELIVERED
    delivered = facts(reminder=Reminder(utc(2026, 11, 24, 2), utc(2026, 11, 24, 3)))
    assert assess(delivered, NOV, DUE, strict) == Skip.NOT_DUE
    assert assess(delivered, NOV, DUE + timedelta(hours=1), strict) == Owed(Kind.FIRST, 300)


def test_plan_fee_is_owed_when_in_force_on_the_first_day():
    assert plan_fee_owed(NOV.start, None, 5800, NOV) == Owed(Kind.PLAN, 5800)
    assert plan_fee_owed(NOV.start + DAY, None, 5800, NOV) is None
    assert plan_fee_owed(utc(2026, 1, 1), NOV.start, 5800, NOV) is None
    assert plan_fee_owed(utc(2026, 1, 1), None, 0, NOV) is None


def test_a_period_is_billed_at_an_instant_in_or_after_it():
    check_run_time(NOV, NOV.start, now=NOV.end)
    with pytest.raises(InvalidInput, match="cannot be billed"):
        check_run_time(NOV, NOV.start - timedelta(microseconds=1), now=NOV.end)
    with pytest.raises(InvalidInput, match="cannot be billed"):
        check_run_time(NOV, NOV.start - DAY, now=NOV.end, simulate=True)


def test_a_period_that_has_not_begun_by_the_wall_clock_is_not_billed():
    """Invariant 10, with today (the wall clock) at 2026-12-01 10:00 local."""
    today = utc(2026, 12, 1, 2)
    dec, jan = Period.parse("2026-12"), Period.parse("2027-01")
    check_run_time(dec, today, now=today)
    with pytest.raises(NotBillableYet, match=r"2027-01 has not begun.*--simulate"):
        check_run_time(jan, jan.start, now=today)
    with pytest.raises(NotBillableYet, match="2027-01 has not begun"):
        check_run_time(jan, today, now=today)
    with pytest.raises(NotBillableYet, match="later than now"):
        check_run_time(dec, today + timedelta(microseconds=1), now=today)
    with pytest.raises(NotBillableYet, match="later than now"):
        check_run_time(NOV, today + DAY, now=today)
    check_run_time(jan, jan.start, now=today, simulate=True)
    check_run_time(dec, today + DAY, now=today, simulate=True)
    assert NotBillableYet("x").code == "not_billable_yet"


def test_a_tally_counts_what_was_charged_and_why_the_rest_was_not():
    """What a chunk owed but did not charge had been charged by an earlier run."""
    chunk = ChunkCounts(
        {Kind.FIRST: 3, Kind.PLAN: 1, Skip.NOT_DUE: 2},
        {Kind.FIRST: Charged(2, 600)},
    )
    tally = Tally().add(chunk).add(ChunkCounts({Kind.FIRST: 1}, {Kind.FIRST: Charged(1, 50)}))
    assert tally.charged == {Kind.FIRST: Charged(3, 650), Kind.PLAN: Charged()}
    assert tally.skipped == {Skip.ALREADY_CHARGED: 2, Skip.NOT_DUE: 2}
    assert tally.total == Charged(3, 650)
    assert Tally().total == Charged()


def test_policy_record():
    policy = ChargingPolicy(timedelta(hours=2), True, FirstMonth.PRORATED)
    assert policy_from_json(policy_json(policy, "Asia/Shanghai")) == policy
