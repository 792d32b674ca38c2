from datetime import UTC, datetime, timedelta

import pytest

from vasguard.domain.catalogue import BillingMode
from vasguard.domain.listing import (
    Listing,
    ListingCandidate,
    PickRefusal,
    TdMeaning,
    number_items,
    pick,
    td_number_meaning,
)
from vasguard.domain.subscription import State

T0 = datetime(2026, 11, 24, 2, tzinfo=UTC)


def holding(sid, code, *, ordered=T0, mode=BillingMode.MONTHLY, state=State.ACTIVE, in_plan=False):
    return ListingCandidate(sid, code, f"svc{code}", "p", 300, mode, False, state, ordered, in_plan)


def test_numbering_is_by_order_date_then_code_and_skips_what_is_not_listable():
    items = number_items(
        [
            holding(1, "B", ordered=T0),
            holding(2, "A", ordered=T0),
            holding(3, "C", ordered=T0 - timedelta(days=1)),
            holding(4, "D", in_plan=True),
            holding(5, "E", mode=BillingMode.PER_USE),
            holding(6, "F", state=State.PENDING),
        ]
    )
    assert [(i.number, i.candidate.subscription_id) for i in items] == [(1, 3), (2, 2), (3, 1)]


def test_pick_maps_numbers_or_refuses_all_of_them():
    listing = Listing(1, T0 + timedelta(hours=24), {1: 10, 2: 20, 3: 30})
    assert pick(listing, (1, 3), T0).subscription_ids == (10, 30)
    refused = pick(listing, (1, 9), T0)
    assert refused.refusal is PickRefusal.OUT_OF_RANGE and refused.subscription_ids == ()
    assert refused.out_of_range == (9,)
    assert pick(listing, (1,), T0 + timedelta(hours=24)).refusal is PickRefusal.EXPIRED
    assert pick(None, (1,), T0).refusal is PickRefusal.NO_LISTING


def test_cancel_all_is_open_only_with_a_code_inside_both_windows():
    until = T0 + timedelta(minutes=10)
    listing = Listing(1, T0 + timedelta(hours=24), {1: 10}, "1234", until)
    assert listing.cancel_all_open_at(T0)
    assert not listing.cancel_all_open_at(until)
    assert not Listing(1, T0 + timedelta(hours=24), {1: 10}).cancel_all_open_at(T0)


@pytest.mark.parametrize(
    ("item_listed", "service_held", "meaning"),
    [
        (True, True, TdMeaning.AMBIGUOUS),
        (True, False, TdMeaning.ITEM),
        (False, True, TdMeaning.SERVICE),
        (False, False, TdMeaning.NEITHER),
    ],
)
def test_td_with_a_short_number(item_listed, service_held, meaning):
    assert td_number_meaning(item_listed=item_listed, service_held=service_held) is meaning
