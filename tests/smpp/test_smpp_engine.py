"""The SMPP engine end to end: the real services on both stores, the npm SMSC on loopback.

Each test runs the engine (binds, MO handler, sender, receipts) against a fresh test SMSC
and checks the database as well as what the SMSC recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from conftest import ALICE, BOB, CAROL, HOME
from sqlalchemy import func, select

from vasguard.channels.smpp.engine import SmppEngine
from vasguard.domain.catalogue import Subscriber
from vasguard.domain.messages import NewMt
from vasguard.store import tables
from vasguard.store.uow import SqlUnitOfWork

m = tables.messages.c
LISTING_PORT = "10086977"


class RunningClock:
    """Wall time shifted to start at the test world's instant: leases and back-off run."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


async def until(condition, timeout: float = 10.0, what: str = "condition"):
    """Poll ``condition`` (run in a thread: it may query the database) until truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


def scalar(world, query):
    with world.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def all_rows(world, query):
    with world.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def mts_settled(world):
    """No MT is still queued or awaiting its receipt."""
    return (
        scalar(
            world,
            select(func.count())
            .select_from(tables.messages)
            .where(m.direction == "mt", m.status.in_(["queued", "sent"])),
        )
        == 0
    )


def add_subscribers(world, count: int) -> list[str]:
    numbers = [f"1390000{n:04d}" for n in range(count)]
    with world.engine.begin() as conn:
        conn.execute(
            tables.subscribers.insert(),
            [
                {
                    "id": 100 + n,
                    "msisdn": msisdn,
                    "province": HOME,
                    "language": "zh",
                    "status": "active",
                    "created_at": world.clock.now(),
                }
                for n, msisdn in enumerate(numbers)
            ],
        )
    return numbers


def nothing_queued(world):
    query = select(func.count()).select_from(tables.messages).where(m.status == "queued")
    return scalar(world, query) == 0


def slowed(new_uow, seconds: float = 0.02):
    """A unit-of-work factory whose commits take ``seconds`` longer (a busy database)."""

    def make():
        uow = new_uow()
        commit = uow.commit

        def committing():
            time.sleep(seconds)
            commit()

        uow.commit = committing
        return uow

    return make


def mo(label: str, source: str, text: str, to: str = "10086", **fields):
    return {"mo": label, "source": source, "destination": to, "text": text, **fields}


async def started(world, config, clock=None, **options) -> SmppEngine:
    engine = SmppEngine(
        world.uow, clock or RunningClock(world.clock.now()), world.deployment, config(), **options
    )
    await engine.start()
    await engine.pool.wait_bound(5)
    assert engine.ready()
    return engine


def test_0000_gets_a_long_ucs2_listing_in_parts_and_1_cancels(world, smsc, config, run):
    for code in ("80100001", "80100002", "90000001", "80200002"):
        world.subscribe(code)

    async def scenario():
        engine = await started(world, config)
        try:
            await smsc.do("deliver", messages=[mo("list", ALICE, "0000")])
            await smsc.wait("deliver_sm_resp", mo="list", status=0)
            listing_query = select(tables.messages).where(m.kind == "listing")
            [listing] = await until(lambda: all_rows(world, listing_query), what="listing")
            await until(
                lambda: all_rows(world, listing_query.where(m.status == "delivered")),
                what="listing delivered",
            )
            await smsc.do("deliver", messages=[mo("cancel", ALICE, "1", to=LISTING_PORT)])
            await smsc.wait("deliver_sm_resp", mo="cancel", status=0)
            await until(lambda: mts_settled(world), what="every MT settled")
            return listing
        finally:
            await engine.stop()

    listing = run(scenario())
    smsc.settle()
    parts = all_rows(
        world,
        select(tables.message_parts)
        .where(tables.message_parts.c.message_id == listing["id"])
        .order_by(tables.message_parts.c.number),
    )
    assert listing["parts"] == len(parts) >= 3
    submits = {e["message_id"]: e for e in smsc.events("submit_sm", status=0)}
    on_wire = [submits[p["smsc_message_id"]] for p in parts]
    assert {(s["data_coding"], s["esm_class"] & 0x40) for s in on_wire} == {(8, 0x40)}
    assert {s["source_addr"] for s in on_wire} == {LISTING_PORT}
    concat = [bytes.fromhex(s["udh_hex"][0]) for s in on_wire]
    assert [c[:2] for c in concat] == [b"\x00\x03"] * len(parts)
    assert [c[3:] for c in concat] == [bytes([len(parts), n]) for n in range(1, len(parts) + 1)]
    assert "".join(s["text"] for s in on_wire) == listing["text"]
    [cancel_mo] = all_rows(world, select(tables.messages).where(m.direction == "mo", m.text == "1"))
    [reply] = all_rows(world, select(tables.messages).where(m.in_reply_to == cancel_mo["id"]))
    assert reply["status"] == "delivered" and "天气预报" in reply["text"]
    assert {r["state"] for r in world.rows(tables.subscriptions)} >= {"cancelled"}
    assert len(submits) == len(smsc.events("submit_sm")), "no MT part was submitted twice"


def test_with_message_payload_a_long_listing_goes_whole_in_one_submit_sm(world, smsc, config, run):
    """``message_payload`` on: the listing, several SMS long, is one part, one submit_sm
    carrying the whole UCS-2 text in the message_payload TLV (no UDH), and one receipt
    settles it; a reply that fits one SMS still goes in short_message."""
    for code in ("80100001", "80100002", "90000001", "80200002"):
        world.subscribe(code)

    async def scenario():
        engine = await started(world, lambda: config(message_payload=True))
        try:
            await smsc.do("deliver", messages=[mo("list", ALICE, "0000")])
            await smsc.wait("deliver_sm_resp", mo="list", status=0)
            await until(lambda: mts_settled(world), what="the listing delivered")
            await smsc.do("deliver", messages=[mo("cancel", ALICE, "1", to=LISTING_PORT)])
            await smsc.wait("deliver_sm_resp", mo="cancel", status=0)
            await until(lambda: mts_settled(world), what="every MT settled")
        finally:
            await engine.stop()

    run(scenario())
    smsc.settle()
    [listing] = all_rows(world, select(tables.messages).where(m.kind == "listing"))
    [part] = all_rows(
        world,
        select(tables.message_parts).where(tables.message_parts.c.message_id == listing["id"]),
    )
    assert listing["parts"] >= 3, "the listing is several SMS long"
    assert listing["status"] == "delivered" and part["state"] == "delivered"
    assert (part["number"], part["parts"], part["text"]) == (1, 1, listing["text"])
    submits = {e["message_id"]: e for e in smsc.events("submit_sm", status=0)}
    whole = submits[part["smsc_message_id"]]
    assert (whole["data_coding"], whole["esm_class"], whole["udh_hex"]) == (8, 0, None)
    assert whole["payload"] == listing["text"] and not whole["text"]
    [cancel_mo] = all_rows(world, select(tables.messages).where(m.direction == "mo", m.text == "1"))
    [reply] = all_rows(world, select(tables.messages).where(m.in_reply_to == cancel_mo["id"]))
    [short] = [e for e in submits.values() if e["text"] == reply["text"]]
    assert short["payload"] is None and reply["status"] == "delivered"
    mts = all_rows(world, select(tables.messages).where(m.direction == "mt"))
    assert len(submits) == len(smsc.events("submit_sm")) == len(mts), "one submit_sm per MT"


def test_receipts_settle_every_mt_even_when_they_overtake_the_submit_sm_resp(
    world, smsc, config, run
):
    numbers = add_subscribers(world, 12)

    async def scenario():
        await smsc.do("config", receipt_first=True, submit_delay_ms=30)
        engine = await started(world, config)
        try:
            await smsc.do(
                "deliver", messages=[mo(f"m{n}", x, "0000") for n, x in enumerate(numbers)]
            )
            await smsc.wait("deliver_sm_resp", count=len(numbers), status=0)
            await until(lambda: mts_settled(world), what="every MT settled")
        finally:
            await engine.stop()

    run(scenario())
    replies = world.rows(tables.messages, m.direction == "mt")
    assert len(replies) == len(numbers)
    assert {(r["status"], r["receipt_status"]) for r in replies} == {("delivered", "delivered")}
    assert world.rows(tables.unmatched_receipts) == []
    assert {p["state"] for p in world.rows(tables.message_parts)} == {"delivered"}


def test_concatenated_mos_are_reassembled_answered_once_and_incomplete_ones_kept(
    world, smsc, config, run
):
    parts = [
        mo("a1", ALICE, "00", udh_hex="050003ab0201"),
        mo("a2", ALICE, "00", udh_hex="050003ab0202"),
        mo("b2", BOB, "00", udh_hex="0608041234 0202".replace(" ", "")),
        mo("b1", BOB, "00", udh_hex="06080412340201"),
        mo("c1", CAROL, "00", sar={"reference": 77, "total": 2, "seqnum": 1}),
        mo("c2", CAROL, "00", sar={"reference": 77, "total": 2, "seqnum": 2}),
        mo("lost", ALICE, "TD", udh_hex="050003cd0201"),  # its second part never comes
    ]

    async def scenario():
        engine = await started(
            world, config, fragment_timeout=timedelta(seconds=1), sweep_every=0.2
        )
        try:
            await smsc.do("deliver", messages=parts[:3])
            await smsc.wait("deliver_sm_resp", count=3, status=0)
            await smsc.do("deliver", messages=parts[3:])
            await smsc.wait("deliver_sm_resp", count=len(parts), status=0)
            # a part redelivered after its message was taken is answered, not acted on
            await smsc.do("deliver", messages=[{**parts[1], "mo": "a2-again"}])
            await smsc.wait("deliver_sm_resp", mo="a2-again", status=0)
            incomplete = select(tables.messages).where(m.kind == "mo_incomplete")
            return await until(lambda: all_rows(world, incomplete), what="incomplete MO kept")
        finally:
            await engine.stop()

    [incomplete] = run(scenario())
    mos = world.rows(tables.messages, m.direction == "mo", m.kind == "mo")
    assert sorted((r["msisdn"], r["text"]) for r in mos) == [
        (ALICE, "0000"),
        (BOB, "0000"),
        (CAROL, "0000"),
    ]
    assert all(r["smsc_message_id"].startswith("cat:") for r in mos)
    replies = world.rows(tables.messages, m.in_reply_to.in_([r["id"] for r in mos]))
    assert Counter(r["in_reply_to"] for r in replies) == Counter({r["id"]: 1 for r in mos})
    assert (incomplete["msisdn"], incomplete["text"]) == (ALICE, "TD[…]")
    assert world.rows(tables.messages, m.in_reply_to == incomplete["id"]) == []
    assert world.rows(tables.mo_fragments) == []


def test_a_drop_mid_flood_answers_every_mo_exactly_once_after_reconnect(world, smsc, config, run):
    numbers = add_subscribers(world, 80)

    async def scenario():
        engine = SmppEngine(
            slowed(world.uow),
            RunningClock(world.clock.now()),
            world.deployment,
            config(deliver_batch=8),
            lease=timedelta(seconds=1),
        )
        await engine.start()
        await engine.pool.wait_bound(5)
        try:
            await smsc.do(
                "deliver", messages=[mo(f"m{n}", x, "0000") for n, x in enumerate(numbers)]
            )
            await smsc.wait("deliver_sm_resp", count=5)
            await smsc.do("drop")
            await smsc.wait("bind", count=2, status=0)
            await until(
                lambda: (
                    len({e["mo"] for e in smsc.events("deliver_sm_resp", status=0)}) == len(numbers)
                ),
                timeout=20,
                what="every MO acknowledged",
            )
            # receipts owed on the dropped connection come again after the reconnect
            await until(lambda: mts_settled(world), timeout=20, what="every reply delivered")
        finally:
            await engine.stop()

    run(scenario(), timeout=50)
    smsc.settle()
    mos = world.rows(tables.messages, m.direction == "mo")
    assert sorted(r["msisdn"] for r in mos) == sorted(numbers), "one MO row per MO"
    replies = world.rows(tables.messages, m.direction == "mt")
    assert Counter(r["in_reply_to"] for r in replies) == Counter({r["id"]: 1 for r in mos})
    assert smsc.events("deliver_sm_sent", attempt=2), "the drop made the SMSC redeliver"
    on_wire = Counter(e["destination_addr"] for e in smsc.events("submit_sm", status=0))
    assert set(on_wire) == set(numbers), "every reply reached the SMSC"
    assert {r["status"] for r in replies} == {"delivered"}


def test_throttled_mts_are_each_sent_exactly_once_in_the_end(world, smsc, config, run):
    subscribers = [Subscriber(n, x, HOME, "zh", "active") for n, x in ((1, ALICE), (2, BOB))]
    with world.uow() as uow:
        uow.messages.add_many(
            [
                NewMt(subscribers[n % 2], "10086", "notice", f"notice {n}", world.clock.now())
                for n in range(40)
            ]
        )
        uow.commit()

    async def scenario():
        await smsc.do("throttle", count=15, status="ESME_RTHROTTLED")
        engine = await started(world, config)
        try:
            await until(lambda: mts_settled(world), timeout=20, what="every MT settled")
        finally:
            await engine.stop()

    run(scenario(), timeout=30)
    smsc.settle()
    assert len(smsc.events("submit_sm", status=0x58)) == 15
    accepted = Counter(e["text"] for e in smsc.events("submit_sm", status=0))
    assert accepted == Counter({f"notice {n}": 1 for n in range(40)})
    assert {r["status"] for r in world.rows(tables.messages)} == {"delivered"}


def test_no_deliver_sm_resp_before_its_mo_is_committed(world, smsc, config, run):
    numbers = add_subscribers(world, 30)
    violations = []

    def handled(msisdn):
        return scalar(
            world,
            select(func.count())
            .select_from(tables.messages)
            .where(m.direction == "mo", m.msisdn == msisdn, m.handled_at.is_not(None)),
        )

    async def scenario():
        engine = SmppEngine(
            slowed(world.uow, 0.03), RunningClock(world.clock.now()), world.deployment, config()
        )
        await engine.start()
        await engine.pool.wait_bound(5)
        try:
            await smsc.do("deliver", messages=[mo(x, x, "0000") for x in numbers[:15]])
            await smsc.do("deliver", messages=[mo(x, x, "0000") for x in numbers[15:]])
            seen = set()
            while len(seen) < len(numbers):
                for event in smsc.events("deliver_sm_resp", status=0):
                    if event["mo"] not in seen:
                        seen.add(event["mo"])
                        if not await asyncio.to_thread(handled, event["mo"]):
                            violations.append(event["mo"])
                await asyncio.sleep(0.002)
        finally:
            await engine.stop()

    run(scenario(), timeout=30)
    assert violations == [], "deliver_sm_resp arrived before the MO was committed"


def test_stop_leaves_claims_consistent_and_a_restart_resubmits_nothing(world, smsc, config, run):
    subscribers = [Subscriber(n, x, HOME, "zh", "active") for n, x in ((1, ALICE), (2, BOB))]
    with world.uow() as uow:
        uow.messages.add_many(
            [
                NewMt(subscribers[n % 2], "10086", "notice", f"notice {n}", world.clock.now())
                for n in range(40)
            ]
        )
        uow.commit()
    clock = RunningClock(world.clock.now())

    async def scenario():
        await smsc.do("config", submit_delay_ms=100)
        first = await started(world, config, clock=clock)
        await smsc.wait("submit_sm", count=5)
        await first.stop()  # mid-flight: the window's submits finish, the rest stay queued
        parts = world.rows(tables.message_parts)
        assert {r["state"] for r in parts} <= {"queued", "submitted", "delivered"}
        assert all(r["smsc_message_id"] for r in parts if r["state"] != "queued")
        assert any(r["state"] == "queued" for r in parts) or len(parts) < 40
        second = await started(world, config, clock=clock)
        try:
            await until(lambda: nothing_queued(world), timeout=20, what="every MT sent")
        finally:
            await second.stop()

    run(scenario(), timeout=40)
    smsc.settle()
    accepted = Counter(e["text"] for e in smsc.events("submit_sm", status=0))
    assert accepted == Counter({f"notice {n}": 1 for n in range(40)})
    assert len(smsc.events("bind", status=0)) == 2 and smsc.events("unbind")


def test_a_failed_commit_is_a_temporary_error_and_the_redelivery_is_acted_on_once(
    world, smsc, config, run
):
    failures = {"left": 2}  # the group commit's try, then the MO's own

    class FailingUow(SqlUnitOfWork):
        def __enter__(self):
            entered = super().__enter__()
            receive = entered.messages.receive

            def receiving(*args, **kwargs):
                if failures["left"] > 0:
                    failures["left"] -= 1
                    raise RuntimeError("database went away")
                return receive(*args, **kwargs)

            entered.messages.receive = receiving
            return entered

    def failing_uow():
        return FailingUow(world.engine)

    async def scenario():
        engine = SmppEngine(
            failing_uow, RunningClock(world.clock.now()), world.deployment, config()
        )
        await engine.start()
        await engine.pool.wait_bound(5)
        try:
            await smsc.do("deliver", messages=[mo("x", ALICE, "0000")])
            await smsc.wait("deliver_sm_resp", mo="x", status=0x64)  # ESME_RX_T_APPN
            await smsc.wait("deliver_sm_resp", mo="x", status=0, timeout=10)
            await until(lambda: nothing_queued(world), what="the reply sent")
        finally:
            await engine.stop()

    run(scenario())
    [stored] = world.rows(tables.messages, m.direction == "mo")
    assert stored["handled_at"] is not None
    assert len(world.rows(tables.messages, m.in_reply_to == stored["id"])) == 1


def test_refused_mos_are_stored_and_acknowledged_not_redelivered(world, smsc, config, run):
    async def scenario():
        engine = await started(world, config)
        try:
            await smsc.do(
                "deliver",
                messages=[
                    mo("stranger", "13999999999", "0000"),
                    mo("misrouted", ALICE, "0000", to="95555"),
                ],
            )
            await smsc.wait("deliver_sm_resp", count=2)
            await asyncio.sleep(0.2)  # longer than the SMSC's redelivery delay
        finally:
            await engine.stop()

    run(scenario())
    smsc.settle()
    assert {(e["mo"], e["status"]) for e in smsc.events("deliver_sm_resp")} == {
        ("stranger", 0),
        ("misrouted", 0),
    }
    assert not smsc.events("deliver_sm_sent", attempt=2)
    stored = world.rows(tables.messages, m.direction == "mo")
    assert sorted(r["msisdn"] for r in stored) == sorted(["13999999999", ALICE])
    assert world.rows(tables.messages, m.direction == "mt") == []
