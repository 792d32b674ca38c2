"""The outbox: MT parts claimed, submitted once, retried, failed and settled by receipts,
on both stores (invariant 11)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from conftest import ALICE, BOB, CAROL, HOME

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.catalogue import Subscriber
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.messages import NewMt, Receipt
from vasguard.domain.mt_parts import (
    MAX_UNKNOWN_ATTEMPTS,
    Outgoing,
    Submitted,
    Throttled,
    Unknown,
)
from vasguard.domain.subscription import Channel
from vasguard.services.orders import place_order
from vasguard.services.outbox import (
    PartRefused,
    claim,
    flush,
    forget_unmatched,
    record_receipt,
    record_receipts,
    settle,
)
from vasguard.store import tables

LONG = "您订购的业务清单：" + "天气预报，每月2元。" * 20  # UCS-2, several parts
m = tables.messages.c
p = tables.message_parts.c


def _order(world):
    return place_order(
        world.uow(),
        world.clock,
        world.deployment,
        msisdn=ALICE,
        service_code="80100001",
        channel=Channel.WEB,
        cause=Cause(CauseKind.API, "t"),
    )


def _queue(world, texts, *, to=(ALICE, BOB, CAROL)):
    subscribers = [Subscriber(n + 1, msisdn, HOME, "zh", "active") for n, msisdn in enumerate(to)]
    with world.uow() as uow:
        ids = uow.messages.add_many(
            [
                NewMt(subscribers[n % len(to)], "10086", "notice", text, world.clock.now())
                for n, text in enumerate(texts)
            ]
        )
        uow.commit()
    return ids


def _message(world, message_id):
    return world.rows(tables.messages, m.id == message_id)[0]


def test_a_queued_mt_is_sent_part_by_part_then_delivered_once(world):
    placed = _order(world)
    smsc = LoopbackSmsc()
    assert flush(world.uow(), world.clock, smsc) == 1  # one MT of two UCS-2 parts
    assert flush(world.uow(), world.clock, smsc) == 0
    assert smsc.inbox(ALICE) == [placed.request_text]
    row = _message(world, placed.request_message_id)
    assert row["status"] == "sent" and row["sent_at"] == world.clock.now()
    first, second = smsc.receipts(world.clock.now())
    world.clock.advance(timedelta(seconds=3))
    assert record_receipt(world.uow(), Receipt(first.smsc_message_id, True, world.clock.now()))
    row = _message(world, placed.request_message_id)
    assert row["status"] == "sent" and row["receipt_status"] is None, "one part is not an MT"
    world.clock.advance(timedelta(seconds=3))
    assert record_receipt(world.uow(), Receipt(second.smsc_message_id, True, world.clock.now()))
    assert not record_receipt(world.uow(), Receipt(second.smsc_message_id, True, world.clock.now()))
    row = _message(world, placed.request_message_id)
    assert row["status"] == "delivered" and row["receipt_status"] == "delivered"
    assert row["receipt_at"] == world.clock.now()
    assert [e["kind"] for e in world.rows(tables.events, tables.events.c.entity == "message")] == [
        "delivered"
    ]
    parts = world.rows(tables.message_parts)
    assert [(r["number"], r["parts"], r["state"]) for r in parts] == [
        (1, 2, "delivered"),
        (2, 2, "delivered"),
    ]
    assert "".join(r["text"] for r in parts) == placed.request_text


def test_one_failed_part_fails_the_mt_with_the_reason_and_not_due_mts_wait(world):
    placed = _order(world)
    with world.engine.begin() as conn:
        conn.execute(
            tables.messages.update().values(send_after=world.clock.now() + timedelta(hours=1))
        )
    smsc = LoopbackSmsc()
    assert flush(world.uow(), world.clock, smsc) == 0
    world.clock.advance(timedelta(hours=1))
    assert flush(world.uow(), world.clock, smsc) == 1
    first, _ = smsc.receipts(world.clock.now(), delivered=False)
    record_receipt(world.uow(), first)
    row = _message(world, placed.request_message_id)
    assert row["status"] == "failed" and row["receipt_status"] == "failed"
    [event] = world.rows(tables.events, tables.events.c.entity == "message")
    assert event["kind"] == "delivery_failed" and "UNDELIV" in event["detail"]
    assert world.rows(tables.message_parts, p.number == 1)[0]["error"] == "UNDELIV"


def test_a_failed_mt_gets_its_own_parts_reason_when_ids_of_parts_and_mts_differ(world):
    """The reason is read from the MT's own first failed part, not from a part whose id
    happens to equal the MT's (SQLite once rendered that correlation unqualified)."""
    for n in range(7):  # earlier MTs: the order's MT id is now ahead of its parts' ids
        world.sms(f"hello {n}")
    with world.engine.begin() as conn:
        conn.execute(tables.messages.update().values(status="sent"))
    placed = _order(world)
    smsc = LoopbackSmsc()
    assert flush(world.uow(), world.clock, smsc) == 1
    parts = world.rows(tables.message_parts)
    assert parts and all(r["id"] != r["message_id"] for r in parts)
    [receipt, *_] = smsc.receipts(world.clock.now(), delivered=False)
    record_receipt(world.uow(), receipt)
    assert _message(world, placed.request_message_id)["status"] == "failed"
    [event] = world.rows(tables.events, tables.events.c.kind == "delivery_failed")
    assert "UNDELIV" in event["detail"]


def test_the_loopback_smsc_keeps_a_bounded_window_and_joins_parts():
    from datetime import UTC, datetime

    smsc = LoopbackSmsc(keep=4)
    for n in range(5):
        smsc.submit(Outgoing(n, n, ALICE, "10086", "gsm7", 1, 1, f"text {n}", 1))
    smsc.submit(Outgoing(9, 9, BOB, "10086", "gsm7", 2, 2, "world", 1))
    smsc.submit(Outgoing(8, 9, BOB, "10086", "gsm7", 1, 2, "hello ", 1))
    assert smsc.inbox(ALICE) == ["text 3", "text 4"]
    assert smsc.inbox(BOB) == ["hello world"]
    assert len(smsc.receipts(datetime(2026, 11, 24, tzinfo=UTC))) == 7
    assert smsc.receipts(datetime(2026, 11, 24, tzinfo=UTC)) == []


class Counting:
    """A thread-safe SMSC that counts every part handed to it; optionally refuses the
    first ``refuse`` submits with ``status``."""

    def __init__(self, refuse: int = 0, status: str = "ESME_RTHROTTLED", retryable=True):
        self.lock = threading.Lock()
        self.seen: Counter[tuple[int, int]] = Counter()
        self.refuse = refuse
        self.status = status
        self.retryable = retryable
        self.ids = 0

    def submit(self, part: Outgoing) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                raise PartRefused(self.status, retryable=self.retryable)
            self.seen[(part.message_id, part.number)] += 1
            self.ids += 1
            return f"c{self.ids}"


def test_concurrent_senders_submit_every_part_exactly_once(world):
    texts = [f"短信 {n}" if n % 3 else LONG + str(n) for n in range(300)]
    ids = _queue(world, texts)
    smsc = Counting()
    errors: list[BaseException] = []

    def sender(name: str) -> None:
        try:
            flush(world.uow(), world.clock, smsc, chunk=7, owner=name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(f"s{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    parts = world.rows(tables.message_parts)
    assert {(r["message_id"], r["number"]) for r in parts} == set(smsc.seen)
    assert set(smsc.seen.values()) == {1}, "a part was handed to the SMSC twice"
    assert {r["message_id"] for r in parts} == set(ids)
    counted = {r["id"]: r["parts"] for r in world.rows(tables.messages, m.id.in_(ids))}
    assert Counter(r["message_id"] for r in parts) == counted, "cut as counted when queued"
    assert len({r["smsc_message_id"] for r in parts}) == len(parts)
    assert {r["status"] for r in world.rows(tables.messages, m.id.in_(ids))} == {"sent"}
    assert len({r["claimed_by"] for r in parts}) == 1  # cleared once submitted: None


def test_throttled_parts_are_retried_with_back_off_and_sent_once(world):
    ids = _queue(world, [f"text {n}" for n in range(10)])
    smsc = Counting(refuse=4)
    assert flush(world.uow(), world.clock, smsc, chunk=4) == 0  # all four refused: wait
    throttled = world.rows(tables.message_parts, p.error == "ESME_RTHROTTLED")
    assert len(throttled) == 4 and {r["state"] for r in throttled} == {"queued"}
    assert {r["next_attempt_at"] for r in throttled} == {world.clock.now() + timedelta(seconds=1)}
    assert flush(world.uow(), world.clock, smsc) == 6  # the others are not held up
    world.clock.advance(timedelta(seconds=1))
    assert flush(world.uow(), world.clock, smsc) == 4
    assert set(smsc.seen.values()) == {1} and len(smsc.seen) == 10
    assert {r["status"] for r in world.rows(tables.messages, m.id.in_(ids))} == {"sent"}


def test_a_permanent_refusal_fails_the_part_its_mt_and_abandons_the_rest(world):
    [message_id] = _queue(world, [LONG])
    smsc = Counting(refuse=1, status="ESME_RINVDSTADR", retryable=False)
    flush(world.uow(), world.clock, smsc, chunk=1)
    row = _message(world, message_id)
    assert row["status"] == "failed" and row["sent_at"] is None
    states = [(r["state"], r["error"]) for r in world.rows(tables.message_parts)]
    assert states[0] == ("failed", "ESME_RINVDSTADR")
    assert {s for s in states[1:]} == {("failed", "ABANDONED")}
    [event] = world.rows(tables.events, tables.events.c.entity == "message")
    assert event["kind"] == "send_failed" and "ESME_RINVDSTADR" in event["detail"]
    assert not smsc.seen


def test_a_dead_senders_claim_is_taken_over_after_its_lease_and_a_stored_id_never(world):
    [message_id] = _queue(world, ["hello"])
    lease = timedelta(seconds=30)
    [part] = claim(world.uow(), world.clock, "dead", lease=lease)
    assert claim(world.uow(), world.clock, "alive", lease=lease) == []
    world.clock.advance(lease)
    [again] = claim(world.uow(), world.clock, "alive", lease=lease)
    assert again.part_id == part.part_id and again.attempts == 2
    settle(world.uow(), world.clock, [Submitted(again, "id-1")])
    # the dead sender comes back with an answer after all: the first id stays
    assert settle(world.uow(), world.clock, [Submitted(part, "id-2")]).duplicates == 1
    world.clock.advance(timedelta(days=2))
    assert claim(world.uow(), world.clock, "later") == []
    [row] = world.rows(tables.message_parts)
    assert (row["state"], row["smsc_message_id"]) == ("submitted", "id-1")
    assert _message(world, message_id)["status"] == "sent"


def test_an_unknown_outcome_is_sent_again_after_the_lease_then_given_up(world):
    [message_id] = _queue(world, ["hello"])
    lease = timedelta(seconds=30)
    for attempt in range(1, MAX_UNKNOWN_ATTEMPTS + 1):
        [part] = claim(world.uow(), world.clock, "s", lease=lease)
        assert part.attempts == attempt
        settle(world.uow(), world.clock, [Unknown(part, "no submit_sm_resp")], lease=lease)
        assert claim(world.uow(), world.clock, "s", lease=lease) == []
        world.clock.advance(lease)
    assert claim(world.uow(), world.clock, "s", lease=lease) == []
    assert _message(world, message_id)["status"] == "failed"
    assert world.rows(tables.message_parts)[0]["error"] == "OUTCOME_UNKNOWN"


def test_a_receipt_before_its_submit_sm_resp_is_kept_and_applied_when_the_id_lands(world):
    [message_id] = _queue(world, ["hello"])
    [part] = claim(world.uow(), world.clock, "s")
    assert record_receipts(world.uow(), [Receipt("early-1", True, world.clock.now())]) == 0
    assert len(world.rows(tables.unmatched_receipts)) == 1
    settle(world.uow(), world.clock, [Submitted(part, "early-1")])
    assert world.rows(tables.unmatched_receipts) == []
    row = _message(world, message_id)
    assert (row["status"], row["receipt_status"]) == ("delivered", "delivered")


@pytest.mark.parametrize("delivered", [True, False])
def test_a_reminder_counts_as_delivered_only_when_its_last_part_is(world, delivered):
    [message_id] = _queue(world, [LONG])
    smsc = LoopbackSmsc()
    assert flush(world.uow(), world.clock, smsc) == 1
    receipts = smsc.receipts(world.clock.now())
    assert len(receipts) > 2
    record_receipts(world.uow(), receipts[:-1])
    assert _message(world, message_id)["receipt_at"] is None
    world.clock.advance(timedelta(minutes=1))
    stat = "DELIVRD" if delivered else "EXPIRED"
    last = Receipt(receipts[-1].smsc_message_id, delivered, world.clock.now(), stat)
    record_receipts(world.uow(), [last])
    row = _message(world, message_id)
    assert row["receipt_status"] == ("delivered" if delivered else "failed")
    assert row["receipt_at"] == world.clock.now()


def test_receipts_that_never_find_their_part_are_dropped_after_days(world):
    record_receipts(world.uow(), [Receipt("lost-1", True, world.clock.now())])
    assert forget_unmatched(world.uow(), world.clock) == 0
    world.clock.advance(timedelta(days=3, seconds=1))
    assert forget_unmatched(world.uow(), world.clock) == 1
    assert world.rows(tables.unmatched_receipts) == []


def test_a_late_outcome_of_an_expired_claim_leaves_the_new_claim_alone(world):
    _queue(world, ["hello"])
    lease = timedelta(seconds=30)
    [old] = claim(world.uow(), world.clock, "slow", lease=lease)
    world.clock.advance(lease)
    [new] = claim(world.uow(), world.clock, "fast", lease=lease)
    settle(world.uow(), world.clock, [Throttled(old, "ESME_RTHROTTLED")])
    [row] = world.rows(tables.message_parts)
    assert (row["state"], row["claimed_by"]) == ("claimed", "fast")
    settle(world.uow(), world.clock, [Submitted(new, "id-1")])
    assert world.rows(tables.message_parts)[0]["state"] == "submitted"


def test_a_claim_by_a_long_owner_name_is_recorded_in_the_column(world):
    _queue(world, ["hello"])
    owner = "smpp@" + "pod-of-a-long-deployment-name." * 3 + ":4242/east_and_its_provinces"
    [part] = claim(world.uow(), world.clock, owner)
    [row] = world.rows(tables.message_parts)
    assert row["state"] == "claimed" and len(row["claimed_by"]) == 64 < len(owner)
    assert row["claimed_by"].startswith("smpp@pod-of-a-long")
    settle(world.uow(), world.clock, [Submitted(part, "id-1")])
    assert world.rows(tables.message_parts)[0]["state"] == "submitted"
