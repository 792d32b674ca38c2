"""The outbox and the loopback SMSC: queued → sent → delivered/failed, on both stores."""

from datetime import timedelta

from conftest import ALICE

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.subscription import Channel
from vasguard.services.orders import place_order
from vasguard.services.outbox import flush, record_receipt
from vasguard.store import tables


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


def test_queued_mt_is_sent_then_delivered_once(world):
    placed = _order(world)
    smsc = LoopbackSmsc()
    assert flush(world.uow(), world.clock, smsc) == 1
    assert flush(world.uow(), world.clock, smsc) == 0
    assert smsc.inbox(ALICE) == [placed.request_text]
    row = world.rows(tables.messages, tables.messages.c.id == placed.request_message_id)[0]
    assert row["status"] == "sent" and row["sent_at"] == world.clock.now()
    world.clock.advance(timedelta(seconds=3))
    (receipt,) = smsc.receipts(world.clock.now())
    assert record_receipt(world.uow(), receipt)
    assert not record_receipt(world.uow(), receipt)
    row = world.rows(tables.messages, tables.messages.c.id == placed.request_message_id)[0]
    assert row["status"] == "delivered" and row["receipt_at"] == world.clock.now()
    assert [e["kind"] for e in world.rows(tables.events, tables.events.c.entity == "message")] == [
        "delivered"
    ]


def test_failed_receipt_and_messages_not_yet_due(world):
    placed = _order(world)
    with world.engine.begin() as conn:
        conn.execute(
            tables.messages.update().values(send_after=world.clock.now() + timedelta(hours=1))
        )
    smsc = LoopbackSmsc()
    assert flush(world.uow(), world.clock, smsc) == 0
    world.clock.advance(timedelta(hours=1))
    assert flush(world.uow(), world.clock, smsc) == 1
    (receipt,) = smsc.receipts(world.clock.now(), delivered=False)
    record_receipt(world.uow(), receipt)
    row = world.rows(tables.messages, tables.messages.c.id == placed.request_message_id)[0]
    assert row["status"] == "failed" and row["receipt_status"] == "failed"


def test_the_loopback_smsc_keeps_a_bounded_window_of_what_it_delivered():
    from datetime import UTC, datetime

    from vasguard.domain.messages import Outgoing

    smsc = LoopbackSmsc(keep=3)
    for n in range(5):
        smsc.submit(Outgoing(n, "13800000001", "10086", f"text {n}"))
    assert smsc.inbox("13800000001") == ["text 2", "text 3", "text 4"]
    assert len(smsc.receipts(datetime(2026, 11, 24, tzinfo=UTC))) == 5
    assert smsc.receipts(datetime(2026, 11, 24, tzinfo=UTC)) == []
