"""Who gets a charge reminder, without a database, and its agreement with ``assess``."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.domain.charging import (
    ChargingPolicy,
    FirstMonth,
    Owed,
    Reminder,
    Skip,
    SubscriptionFacts,
    assess,
)
from vasguard.domain.periods import Period
from vasguard.domain.reminders import NEVER_CHARGED, NoReminder, ReminderFacts, why_no_reminder
from vasguard.domain.subscription import State

DUE = ReminderFacts(
    state=State.ACTIVE,
    reminded=False,
    billing_mode="monthly",
    price_fen=200,
    group_paid=False,
    exempt=False,
    subscriber_status="active",
    in_plan=False,
)


def test_an_active_confirmed_unreminded_monthly_subscription_is_reminded():
    assert why_no_reminder(DUE) is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"state": State.PENDING}, NoReminder.NOT_ACTIVE),
        ({"state": State.CANCELLED}, NoReminder.NOT_ACTIVE),
        ({"state": State.EXPIRED}, NoReminder.NOT_ACTIVE),
        ({"billing_mode": "per_use"}, NoReminder.NO_MONTHLY_FEE),
        ({"billing_mode": "free", "price_fen": 0}, NoReminder.NO_MONTHLY_FEE),
        ({"price_fen": 0}, NoReminder.NO_MONTHLY_FEE),
        ({"group_paid": True}, NoReminder.GROUP_PAID),
        ({"reminded": True}, NoReminder.ALREADY_REMINDED),
        ({"exempt": True}, NoReminder.EXEMPT),
        ({"subscriber_status": "suspended"}, NoReminder.SUBSCRIBER_NOT_ACTIVE),
        ({"subscriber_status": "closed"}, NoReminder.SUBSCRIBER_NOT_ACTIVE),
        ({"in_plan": True}, NoReminder.IN_PLAN),
        # the first reason in order is the one given
        ({"group_paid": True, "exempt": True}, NoReminder.GROUP_PAID),
        ({"price_fen": 0, "in_plan": True}, NoReminder.NO_MONTHLY_FEE),
    ],
)
def test_no_reminder_and_why(overrides, reason):
    assert why_no_reminder(replace(DUE, **overrides)) is reason


# --- agreement with the charging policy --------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
policies = st.builds(
    ChargingPolicy,
    lead_time=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    require_delivery_receipt=st.booleans(),
    first_month=st.sampled_from(FirstMonth),
)
SERVICES = [
    {"billing_mode": mode, "price_fen": price, "group_paid": group_paid, "exempt": exempt}
    for mode in ("monthly", "per_use", "free")
    for price in (0, 1, 50, 300)
    for group_paid in (False, True)
    for exempt in (False, True)
]
services = st.sampled_from(SERVICES)
# What the predicate says of each service for an otherwise due subscription.
reminded = st.sampled_from([s for s in SERVICES if why_no_reminder(replace(DUE, **s)) is None])
never_charged = st.sampled_from(
    [s for s in SERVICES if why_no_reminder(replace(DUE, **s)) in NEVER_CHARGED]
)


@given(
    service=never_charged,
    confirmed_at=st.none() | instants,
    ended_at=st.none() | instants,
    reminder=st.none() | st.builds(Reminder, st.none() | instants, st.none() | instants),
    plan_cover=st.lists(st.tuples(instants, st.none() | instants), max_size=2),
    complaint_open=st.booleans(),
    run_at=instants,
    policy=policies,
)
def test_what_is_never_charged_is_never_reminded(
    service, confirmed_at, ended_at, reminder, plan_cover, complaint_open, run_at, policy
):
    """No reminder "because nothing is ever charged" ⇒ ``assess`` owes nothing, whatever
    else the rows say, in any period."""
    reason = why_no_reminder(replace(DUE, **service))
    assert reason is not None
    facts = SubscriptionFacts(
        confirmed_at=confirmed_at,
        ended_at=ended_at,
        reminder=reminder,
        plan_cover=tuple(plan_cover),
        complaint_open=complaint_open,
        **service,
    )
    owed = assess(facts, Period.of(run_at), run_at, policy)
    assert not isinstance(owed, Owed)
    # the same reason, by the same name, unless the order was never confirmed at all
    assert owed in (Skip.NOT_CONFIRMED, Skip(reason.value))


@given(
    service=reminded,
    confirmed_at=instants,
    after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    policy=policies,
)
def test_a_reminder_sent_is_followed_by_a_charge(service, confirmed_at, after, policy):
    """Whatever is reminded becomes chargeable once the reminder has gone out and the lead
    time passed (with nothing else in the way): a reminder never announces a false charge."""
    sent = confirmed_at + after
    facts = SubscriptionFacts(
        confirmed_at=confirmed_at, ended_at=None, reminder=Reminder(sent, sent), **service
    )
    next_period = Period.of(sent + policy.lead_time).next()
    owed = assess(facts, next_period, next_period.start, policy)
    assert isinstance(owed, Owed) and owed.amount_fen == service["price_fen"]


@given(service=services, run_at=instants, policy=policies)
def test_plan_included_is_neither_reminded_nor_charged(service, run_at, policy):
    """While the plan in force includes the service, no reminder and (were one sent) no
    charge: ``assess`` says IN_PLAN or an earlier reason, never ``Owed``."""
    reason = why_no_reminder(replace(DUE, **service, in_plan=True))
    assert reason is not None
    period = Period.of(run_at)
    covered = ((period.start - timedelta(days=400), None),)
    facts = SubscriptionFacts(
        confirmed_at=period.start - timedelta(days=100),
        ended_at=None,
        reminder=Reminder(period.start - timedelta(days=90), period.start - timedelta(days=90)),
        plan_cover=covered,
        **service,
    )
    assert assess(facts, period, run_at, policy) in (
        Skip.IN_PLAN,
        Skip.NO_MONTHLY_FEE,
        Skip.GROUP_PAID,
    )
