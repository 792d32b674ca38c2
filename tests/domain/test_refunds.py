"""Which charges a refund run covers, and how much of a charge may be given back: no database."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.domain.complaints import Complaint, ComplaintStatus
from vasguard.domain.periods import Period
from vasguard.domain.refunds import (
    RefundScope,
    ResolutionRefusal,
    ResolutionRefused,
    covered_by,
    in_service_during,
    refund_amount,
    voided_by_ending,
)

ZONE = "Asia/Shanghai"
DEC = Period.parse("2026-12", ZONE)  # begins 2026-11-30 16:00 UTC
JAN = DEC.next()


def complaint(opened_at: datetime, subscription_id=None, provider_id=None) -> Complaint:
    return Complaint(
        1, "TS2612010000001", 7, "31", subscription_id, provider_id, ComplaintStatus.OPEN, opened_at
    )


def test_a_complaint_about_a_subscription_covers_it_from_the_local_month_on():
    early_on_the_first = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 07:00 on 1 Dec local
    scope = covered_by(complaint(early_on_the_first, subscription_id=5, provider_id=2), ZONE)
    assert scope == RefundScope(7, DEC, subscription_id=5)


def test_a_complaint_about_a_partner_covers_the_partners_services():
    scope = covered_by(complaint(DEC.start, provider_id=2), ZONE)
    assert scope == RefundScope(7, DEC, provider_id=2)


def test_a_complaint_against_nothing_covers_nothing():
    assert covered_by(complaint(DEC.start), ZONE) is None


@pytest.mark.parametrize(("subscription_id", "provider_id"), [(None, None), (5, 2)])
def test_a_scope_is_one_subscription_or_one_partner(subscription_id, provider_id):
    with pytest.raises(ValueError):
        RefundScope(7, DEC, subscription_id=subscription_id, provider_id=provider_id)


@pytest.mark.parametrize(
    ("ended_at", "first_voided"),
    [
        (datetime(2026, 12, 10, 4, 0, tzinfo=UTC), JAN),  # mid-December: December stays
        (JAN.start - timedelta(microseconds=1), JAN),  # the last instant of December
        (DEC.start + timedelta(microseconds=1), JAN),  # December was (just) in service
        (DEC.start, DEC),  # ended as December began: never in service in December
    ],
)
def test_an_ending_voids_every_period_beginning_at_or_after_it(ended_at, first_voided):
    assert voided_by_ending(7, 5, ended_at, ZONE) == RefundScope(7, first_voided, subscription_id=5)


def test_an_ending_in_the_last_period_kept_voids_nothing_after_it():
    last = Period.parse("2999-12", ZONE)
    assert voided_by_ending(7, 5, last.start + timedelta(days=3), ZONE) is None
    assert voided_by_ending(7, 5, last.start, ZONE) == RefundScope(7, last, subscription_id=5)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2998, 1, 1)))
def test_the_voided_periods_are_exactly_those_not_in_service(naive):
    ended_at = naive.replace(tzinfo=UTC)
    scope = voided_by_ending(7, 5, ended_at, ZONE)
    assert scope is not None
    first = scope.from_period
    assert not in_service_during(first, ended_at)
    assert not in_service_during(first.next(), ended_at)
    before = Period.of(first.start - timedelta(microseconds=1), ZONE)
    assert in_service_during(before, ended_at)


@given(st.integers(min_value=1, max_value=10**7), st.integers(min_value=-10, max_value=10**7))
def test_refund_amount_is_within_the_charge(charged, requested):
    try:
        amount = refund_amount(1, charged, requested)
    except ResolutionRefused:
        assert requested <= 0 or requested > charged
    else:
        assert 0 < amount <= charged and amount == requested


def test_nothing_charged_is_nothing_to_refund():
    with pytest.raises(ResolutionRefused) as refused:
        refund_amount(1, 0, None)
    assert refused.value.refusal is ResolutionRefusal.NOTHING_CHARGED
    assert refused.value.code == "nothing_charged"
