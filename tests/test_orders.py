"""Orders with double confirmation, end to end through the service layer, on both stores."""

from datetime import timedelta

import pytest
from conftest import ALICE, BOB, CAROL

from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import InvalidMsisdn
from vasguard.domain.ordering import OrderRefused, Refusal
from vasguard.domain.subscription import Channel
from vasguard.services.orders import expire_orders
from vasguard.store import tables

CAUSE = Cause(CauseKind.API, "test")


def order(world, msisdn=ALICE, service="80100001", channel=Channel.PARTNER):
    return world.order(service, msisdn, channel)


def sms(world, text, msisdn=ALICE, smsc_id=None):
    return world.sms(text, msisdn, smsc_id)


def subscription(world, sid):
    return world.rows(tables.subscriptions, tables.subscriptions.c.id == sid)[0]


def events(world, sid):
    return [
        e["kind"]
        for e in world.rows(
            tables.events,
            tables.events.c.entity == "subscription",
            tables.events.c.entity_id == sid,
        )
    ]


def test_order_then_confirm_makes_an_active_subscription_with_evidence(world):
    placed = order(world)
    row = subscription(world, placed.subscription_id)
    assert row["state"] == "pending_confirmation"
    assert row["confirm_by"] == world.clock.now() + timedelta(hours=24)
    request = world.rows(tables.messages, tables.messages.c.id == placed.request_message_id)[0]
    assert request["direction"] == "mt" and request["status"] == "queued"
    assert f"是{placed.code}" in request["text"] and "天气预报" in request["text"]
    assert "2元/月" in request["text"] and request["parts"] >= 1

    world.clock.advance(timedelta(minutes=5))
    result = sms(world, f"是{placed.code}")
    assert "成功订购" in result.replies[0]
    row = subscription(world, placed.subscription_id)
    assert row["state"] == "active"
    assert row["confirmed_at"] == world.clock.now()
    assert row["confirmation_mo_id"] == result.mo_id
    assert events(world, placed.subscription_id) == ["ordered", "confirmed"]
    confirmed = world.rows(tables.events, tables.events.c.kind == "confirmed")[0]
    assert (confirmed["cause_kind"], confirmed["cause_ref"]) == ("mo", str(result.mo_id))


@pytest.mark.parametrize("reply", ["Y {code}", "y{code}", "YES{code}", "是", "Y", "ｙｅｓ"])
def test_every_confirmation_form_confirms(world, reply):
    placed = order(world)
    sms(world, reply.format(code=placed.code))
    assert subscription(world, placed.subscription_id)["state"] == "active"


def test_bare_yes_with_two_open_requests_changes_nothing_and_names_both(world):
    first = order(world, service="80100001")
    second = order(world, service="80100002")
    assert first.code != second.code
    result = sms(world, "是")
    assert first.code in result.replies[0] and second.code in result.replies[0]
    assert subscription(world, first.subscription_id)["state"] == "pending_confirmation"
    assert subscription(world, second.subscription_id)["state"] == "pending_confirmation"
    sms(world, f"是{second.code}")
    assert subscription(world, second.subscription_id)["state"] == "active"
    assert subscription(world, first.subscription_id)["state"] == "pending_confirmation"


def test_decline_cancels_and_records_the_mo(world):
    placed = order(world)
    result = sms(world, "否")
    row = subscription(world, placed.subscription_id)
    assert row["state"] == "cancelled" and row["end_cause"] == "declined"
    assert row["end_message_id"] == result.mo_id
    assert events(world, placed.subscription_id) == ["ordered", "declined"]


def test_unanswered_for_24_hours_expires_and_cannot_be_confirmed(world):
    placed = order(world)
    world.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert expire_orders(world.uow(), world.clock, cause=Cause(CauseKind.JOB, "t")) == 0
    world.clock.advance(timedelta(seconds=1))
    late = sms(world, f"是{placed.code}")
    assert "过期" in late.replies[0]
    assert subscription(world, placed.subscription_id)["state"] == "pending_confirmation"
    assert expire_orders(world.uow(), world.clock, cause=Cause(CauseKind.JOB, "t")) == 1
    assert expire_orders(world.uow(), world.clock, cause=Cause(CauseKind.JOB, "t")) == 0
    row = subscription(world, placed.subscription_id)
    assert row["state"] == "expired" and row["ended_at"] == world.clock.now()
    assert events(world, placed.subscription_id) == ["ordered", "expired"]


def _counts(world):
    return {
        t.name: len(world.rows(t)) for t in (tables.subscriptions, tables.messages, tables.events)
    }


@pytest.mark.parametrize(
    ("msisdn", "service", "error", "refusal"),
    [
        (ALICE, "90000002", OrderRefused, Refusal.INCLUDED_IN_PLAN),
        (ALICE, "80100003", OrderRefused, Refusal.NOT_MONTHLY),
        (ALICE, "80100004", OrderRefused, Refusal.NOT_MONTHLY),
        (ALICE, "NOPE", OrderRefused, Refusal.UNKNOWN_SERVICE),
        ("13999999999", "80100001", UnknownSubscriber, None),
        ("12345", "80100001", InvalidMsisdn, None),
    ],
)
def test_refused_orders_change_nothing(world, msisdn, service, error, refusal):
    before = _counts(world)
    with pytest.raises(error) as caught:
        order(world, msisdn=msisdn, service=service)
    if refusal:
        assert caught.value.refusal is refusal
    assert str(caught.value)
    assert _counts(world) == before


def test_a_service_already_held_or_pending_is_refused(world):
    placed = order(world, msisdn=BOB)
    before = _counts(world)
    with pytest.raises(OrderRefused) as pending:
        order(world, msisdn=BOB)
    assert pending.value.refusal is Refusal.ALREADY_HELD
    sms(world, f"是{placed.code}", msisdn=BOB)
    with pytest.raises(OrderRefused) as held:
        order(world, msisdn=BOB)
    assert held.value.refusal is Refusal.ALREADY_HELD
    assert _counts(world)["subscriptions"] == before["subscriptions"]


def test_english_subscriber_gets_english_texts(world):
    placed = order(world, msisdn=CAROL)
    assert f"Y{placed.code}" in placed.request_text
    assert "CNY 2" in placed.request_text
    assert "ordered" in sms(world, "Y", msisdn=CAROL).replies[0]


def test_duplicate_mo_id_is_acted_on_once(world):
    placed = order(world)
    first = sms(world, f"是{placed.code}", smsc_id="smsc-1")
    again = sms(world, f"是{placed.code}", smsc_id="smsc-1")
    assert not first.duplicate and again.duplicate and again.replies == []
    assert len(world.rows(tables.messages, tables.messages.c.direction == "mo")) == 1


def test_reply_with_nothing_open_changes_nothing(world):
    before = _counts(world)
    result = sms(world, "是")
    assert result.replies
    after = _counts(world)
    assert after["subscriptions"] == before["subscriptions"]
    assert after["events"] == before["events"]
