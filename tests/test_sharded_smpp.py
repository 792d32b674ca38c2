"""One SMPP engine serving a three-shard deployment through one set of binds.

Reuses ``test_sharded``'s deployment (a national database and shards east, north, west)
and the test SMSC of ``test_serve_smpp`` (tests/peers/smsc.js on the npm ``smpp``
package). What must hold: an MO is taken on its sender's shard only, acknowledged after
its commit there, and answered once from that shard's outbox; a number of no province is
kept (and refused) on the national database; receipts settle the right shard's MTs,
whether they come before their submit_sm_resp, after a restart (the engine has forgotten
which shard submitted the id), or before any shard has stored the id; a concatenated MO
is reassembled on its sender's shard, and the sweep runs on every shard.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from conftest import T0
from sqlalchemy import Engine, select
from test_serve import eventually
from test_serve_smpp import PASSWORD, Peer, peer, smpp_served
from test_sharded import EVERY, NUMBERS, PROVINCES, SHARDS, Deployment, deployment

from vasguard.bootstrap import Runtime, ShiftedClock
from vasguard.channels.smpp.databases import Databases
from vasguard.channels.smpp.engine import SmppEngine
from vasguard.channels.sms.shares import WindowShares
from vasguard.config import Settings
from vasguard.domain.clock import FixedClock
from vasguard.domain.messages import Receipt
from vasguard.domain.mt_parts import Outgoing, Submitted
from vasguard.services.intake import receive_mo
from vasguard.services.outbox import claim, forget_unmatched, settle
from vasguard.services.routed_receipts import Routed, record_on_shards
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("sharded")

__all__ = ["deployment", "peer"]  # the fixtures, imported for pytest to find

SHARD_OF = dict(zip(PROVINCES, SHARDS, strict=True))
STRANGER = "19999999999"  # a segment this operator does not serve: no province, no shard
m = tables.messages.c


def smpp_runtime(d: Deployment, smsc: Peer) -> Runtime:
    """The sharded deployment's settings with the test SMSC configured, on a clock that
    runs (leases, MO ids' windows) from the deployment's instant."""
    settings = Settings(
        database_url=d.env["VASGUARD_DATABASE_URL"],
        shards=d.env["VASGUARD_SHARDS"],
        scheduler=False,
        smpp_host="127.0.0.1",
        smpp_port=smsc.port,
        smpp_system_id="vasguard",
        smpp_password=PASSWORD,
        smpp_response_timeout_seconds=2,
        smpp_reconnect_min_seconds=0.05,
        smpp_reconnect_max_seconds=0.2,
    )
    return Runtime(settings, fixed_clock=ShiftedClock(T0))


def rows(engine: Engine, table, *where) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).where(*where))]


def every_database(d: Deployment) -> dict[str, Engine]:
    return {**d.shards, "national": d.sharded.engine}


def shard_of(msisdn: str) -> str:
    return "national" if msisdn == STRANGER else SHARD_OF[_province(msisdn)]


def _province(msisdn: str) -> str:
    return next(p for p in PROVINCES if msisdn in NUMBERS[p])


def answered(d: Deployment) -> bool:
    """Every shard has a reply for each of its two numbers, and every reply delivered."""
    for name in SHARDS:
        states = [r["status"] for r in rows(d.shards[name], tables.messages, m.direction == "mt")]
        if len(states) != 2 or set(states) != {"delivered"}:
            return False
    return True


def mo(label: str, source: str, text: str, **fields) -> dict:
    return {"mo": label, "source": source, "destination": "10086", "text": text, **fields}


async def until(condition, what: str, timeout: float = 20.0):
    """Poll ``condition`` (in a thread: it queries the databases) until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await asyncio.to_thread(condition)):
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)
    return value


async def running(engine: SmppEngine) -> SmppEngine:
    await engine.start()
    await engine.pool.wait_bound(5)
    return engine


def run(rt: Runtime, scenario: Callable[[], Awaitable[None]]) -> None:
    """``scenario`` on a fresh event loop (within a minute); the runtime's pools closed."""
    try:
        asyncio.run(asyncio.wait_for(scenario(), 60))
    finally:
        rt.dispose()


def run_engine(
    rt: Runtime, body: Callable[[], Awaitable[None]], engine: SmppEngine | None = None
) -> None:
    """``body`` while an engine (the runtime's own, unless given) is bound; stopped after."""

    async def scenario() -> None:
        started = await running(engine or rt.sms_engine())
        try:
            await body()
        finally:
            await started.stop()

    run(rt, scenario)


def test_mos_over_smpp_land_on_their_senders_shard_and_each_is_answered_once(deployment, peer):
    d = deployment
    rt = smpp_runtime(d, peer)
    engine = rt.sms_engine()
    assert isinstance(engine, SmppEngine) and set(engine.senders) == set(SHARDS)
    mos = [mo(n, n, "0000") for n in [*EVERY, STRANGER]]
    early = []

    def committed_on_its_shard(msisdn: str) -> bool:
        where = (m.direction == "mo", m.msisdn == msisdn, m.handled_at.is_not(None))
        return len(rows(every_database(d)[shard_of(msisdn)], tables.messages, *where)) == 1

    async def dialogue() -> None:
        peer.send("deliver", messages=mos)
        seen: set[str] = set()
        while len(seen) < len(mos):  # each deliver_sm_resp: is its MO committed yet?
            for event in peer.recorded("deliver_sm_resp", status=0):
                if event["mo"] not in seen:
                    seen.add(event["mo"])
                    if not await asyncio.to_thread(committed_on_its_shard, event["mo"]):
                        early.append(event["mo"])
            await asyncio.sleep(0.002)
        await until(lambda: answered(d), "every reply delivered")
        # the same MOs again (as after a lost deliver_sm_resp): answered, not acted on
        peer.send("deliver", messages=[{**x, "mo": f"again-{x['mo']}"} for x in mos])
        await until(
            lambda: len(peer.recorded("deliver_sm_resp", status=0)) == 2 * len(mos),
            "the redeliveries acknowledged",
        )

    run_engine(rt, dialogue, engine)
    assert early == [], "deliver_sm_resp before the MO was committed on its shard"
    assert not peer.recorded("deliver_sm_resp", status=0x64), "no temporary error"
    accepted = {e["message_id"]: e for e in peer.recorded("submit_sm", status=0)}
    submitted = []
    for name, province in zip(SHARDS, PROVINCES, strict=True):
        shard = d.shards[name]
        taken = rows(shard, tables.messages, m.direction == "mo")
        assert sorted(r["msisdn"] for r in taken) == sorted(NUMBERS[province]), name
        replies = rows(shard, tables.messages, m.direction == "mt")
        assert Counter(r["in_reply_to"] for r in replies) == Counter({r["id"]: 1 for r in taken})
        assert {(r["status"], r["receipt_status"]) for r in replies} == {("delivered", "delivered")}
        to = {r["id"]: r["msisdn"] for r in replies}
        for part in rows(shard, tables.message_parts):
            assert part["state"] == "delivered"
            assert accepted[part["smsc_message_id"]]["destination_addr"] == to[part["message_id"]]
            submitted.append(part["smsc_message_id"])
        assert rows(shard, tables.unmatched_receipts) == []
    assert sorted(submitted) == sorted(accepted), "each part submitted once, from its shard"
    national = rows(d.sharded.engine, tables.messages)
    assert [(r["msisdn"], r["direction"]) for r in national] == [(STRANGER, "mo")]


def test_serve_binds_once_for_every_shard_and_answers_each_mo_from_its_shard(
    deployment, peer, tmp_path
):
    """``vasguard serve`` configured by the environment alone: SMPP with shards."""
    d = deployment
    served = smpp_served(
        d.env["VASGUARD_DATABASE_URL"],
        tmp_path,
        peer,
        shards=d.env["VASGUARD_SHARDS"],
        smpp_binds="2",
    )
    try:
        served.start()
        eventually(lambda: len(peer.recorded("bind", status=0)) == 2, "two binds")
        peer.send("deliver", messages=[mo(n, n, "0000") for n in EVERY])
        eventually(lambda: answered(d), "every reply delivered")
        assert len(peer.recorded("deliver_sm_resp", status=0)) == len(EVERY)
        assert served.terminate() == 0
        assert len(peer.recorded("unbind")) == 2, "each bind unbound on SIGTERM"
    finally:
        served.kill()
    for name, province in zip(SHARDS, PROVINCES, strict=True):
        taken = rows(d.shards[name], tables.messages, m.direction == "mo")
        assert sorted(r["msisdn"] for r in taken) == sorted(NUMBERS[province]), name


def test_receipts_ahead_of_their_submit_sm_resp_settle_the_right_shards_mts(deployment, peer):
    d = deployment
    rt = smpp_runtime(d, peer)
    peer.send("config", receipt_first=True, submit_delay_ms=30)

    async def dialogue() -> None:
        peer.send("deliver", messages=[mo(n, n, "0000") for n in EVERY])
        await until(lambda: answered(d), "every reply delivered")

    run_engine(rt, dialogue)
    receipts = peer.recorded("receipt_sent")
    assert receipts and {r["message_id"] for r in receipts} == {
        e["message_id"] for e in peer.recorded("submit_sm", status=0)
    }
    for name in SHARDS:
        assert {p["state"] for p in rows(d.shards[name], tables.message_parts)} == {"delivered"}
        # each receipt went to its part's shard: none was kept anywhere
        assert rows(d.shards[name], tables.unmatched_receipts) == []


def test_after_a_restart_receipts_are_found_on_the_shard_holding_their_part(deployment, peer):
    """The first engine submits the replies and stops before their receipts come; the
    second never submitted those ids, so it looks for each on the shards."""
    d = deployment
    rt = smpp_runtime(d, peer)
    peer.send("config", receipt_delay_ms=2500)

    def all_submitted() -> bool:
        parts = [p for name in SHARDS for p in rows(d.shards[name], tables.message_parts)]
        return len(parts) == len(EVERY) and {p["state"] for p in parts} == {"submitted"}

    async def restarted() -> None:
        first = await running(rt.sms_engine())
        try:
            peer.send("deliver", messages=[mo(n, n, "0000") for n in EVERY])
            await until(all_submitted, "every reply submitted")
        finally:
            await first.stop()
        assert peer.recorded("receipt_sent") == [], "a receipt reached the first engine"
        second = await running(rt.sms_engine())
        try:
            await until(lambda: answered(d), "every reply delivered")
        finally:
            await second.stop()

    run(rt, restarted)
    assert len(peer.recorded("receipt_resp", status=0)) == len(EVERY)
    for name in SHARDS:
        assert {p["state"] for p in rows(d.shards[name], tables.message_parts)} == {"delivered"}
        assert rows(d.shards[name], tables.unmatched_receipts) == []


def test_a_concatenated_mo_is_reassembled_on_its_senders_shard(deployment, peer):
    d = deployment
    rt = smpp_runtime(d, peer)
    north, west = NUMBERS["11"][0], NUMBERS["51"][0]
    parts = [
        mo("n1", north, "00", udh_hex="050003ab0201"),
        mo("n2", north, "00", udh_hex="050003ab0202"),
        mo("lost", west, "TD", udh_hex="050003cd0201"),  # its second part never comes
    ]
    config = rt.settings.smpp_config()
    assert config is not None
    engine = SmppEngine(
        Databases(rt, rt.shard_uows(), national_apart=True),
        rt.clock(),
        rt.deployment,
        config,
        fragment_timeout=timedelta(seconds=1),
        sweep_every=0.2,
    )

    def settled() -> bool:
        kept = [rows(e, tables.mo_fragments) for e in every_database(d).values()]
        return kept == [[]] * len(kept) and bool(
            rows(d.shards["west"], tables.messages, m.kind == "mo_incomplete")
        )

    async def sent() -> None:
        peer.send("deliver", messages=parts)
        await until(
            lambda: len(peer.recorded("deliver_sm_resp", status=0)) == len(parts),
            "every part acknowledged",
        )
        await until(settled, "the sets swept on their shards")

    run_engine(rt, sent, engine)
    [whole] = rows(d.shards["north"], tables.messages, m.direction == "mo")
    assert (whole["msisdn"], whole["text"], whole["kind"]) == (north, "0000", "mo")
    assert whole["smsc_message_id"].startswith("cat:")
    assert len(rows(d.shards["north"], tables.messages, m.in_reply_to == whole["id"])) == 1
    [incomplete] = rows(d.shards["west"], tables.messages, m.direction == "mo")
    assert (incomplete["msisdn"], incomplete["text"]) == (west, "TD[…]")
    assert rows(d.shards["east"], tables.messages) == []
    assert rows(d.sharded.engine, tables.messages) == []


def _claimed_reply(d: Deployment, msisdn: str) -> Outgoing:
    """An MO's reply, queued and claimed on the sender's shard (a submit under way)."""
    rt = d.sharded
    receive_mo(
        rt.uow_for(msisdn), rt.clock(), rt.deployment, msisdn=msisdn, to="10086", text="0000"
    )
    [part] = claim(rt.uow_for(msisdn), rt.clock(), "test")
    return part


def test_a_receipt_no_shard_can_place_yet_is_kept_on_each_and_applied_where_its_part_is(
    deployment,
):
    """A receipt whose part's id no shard has stored yet (another process's submit, its
    submit_sm_resp not yet recorded) is kept on every shard; the part's shard applies it
    when the id is stored, the other copies are dropped with the stale receipts."""
    d = deployment
    shards, clock = d.sharded.shard_uows(), d.sharded.clock()
    north = NUMBERS["11"][0]
    part = _claimed_reply(d, north)
    receipt = Receipt("X1", True, T0)
    assert record_on_shards(shards, [receipt], {}) == Routed({})
    for name in SHARDS:
        kept = rows(d.shards[name], tables.unmatched_receipts)
        assert [r["smsc_message_id"] for r in kept] == ["X1"], name
    settle(d.sharded.uow_on("north"), clock, [Submitted(part, "X1")])
    [mt] = rows(d.shards["north"], tables.messages, m.direction == "mt")
    assert (mt["status"], mt["receipt_status"]) == ("delivered", "delivered")
    assert rows(d.shards["north"], tables.unmatched_receipts) == []
    # a repeat of it is found on north (settled there) and kept nowhere
    assert record_on_shards(shards, [receipt], {}) == Routed({"X1": "north"})
    for name in ("east", "west"):
        assert len(rows(d.shards[name], tables.unmatched_receipts)) == 1
        later = FixedClock(T0 + timedelta(days=4))
        assert forget_unmatched(shards[name](), later) == 1


def test_a_receipt_whose_shard_the_engine_knows_goes_there_alone(deployment):
    d = deployment
    shards = d.sharded.shard_uows()
    west = NUMBERS["51"][0]
    part = _claimed_reply(d, west)
    settle(d.sharded.uow_on("west"), d.sharded.clock(), [Submitted(part, "W1")])
    early = Receipt("W2", True, T0)  # a part of west's whose id west has not stored yet
    found = record_on_shards(shards, [Receipt("W1", False, T0, "UNDELIV"), early], {"W2": "west"})
    assert found == Routed({"W1": "west", "W2": "west"})
    [mt] = rows(d.shards["west"], tables.messages, m.direction == "mt")
    assert (mt["status"], mt["receipt_status"]) == ("failed", "failed")
    assert [r["smsc_message_id"] for r in rows(d.shards["west"], tables.unmatched_receipts)] == [
        "W2"
    ]
    assert rows(d.shards["east"], tables.unmatched_receipts) == []
    assert rows(d.shards["north"], tables.unmatched_receipts) == []


def test_a_shard_that_fails_costs_only_its_own_receipts(deployment):
    """East's database is down: its receipts, and one no shard but east could hold, are
    refused for now (the SMSC sends them again); west's is applied meanwhile."""
    d = deployment

    def east_down():
        raise ConnectionError("east is down")

    shards = {**d.sharded.shard_uows(), "east": east_down}
    west = NUMBERS["51"][0]
    part = _claimed_reply(d, west)
    settle(d.sharded.uow_on("west"), d.sharded.clock(), [Submitted(part, "W1")])
    receipts = [Receipt(i, True, T0) for i in ("W1", "E1", "U1")]
    routed = record_on_shards(shards, receipts, {"E1": "east"})
    assert routed == Routed({"W1": "west"}, frozenset({"E1", "U1"}))
    [mt] = rows(d.shards["west"], tables.messages, m.direction == "mt")
    assert mt["status"] == "delivered"
    for name in ("north", "west"):  # U1 is not kept where it cannot be known to belong
        assert rows(d.shards[name], tables.unmatched_receipts) == []


def test_the_shards_share_the_window_and_one_alone_may_fill_it():
    shares = WindowShares(lambda: 12)
    held: dict[str, asyncio.Event] = {}

    async def submit(part):
        await held[part].wait()
        return part

    async def scenario():
        east, north = shares.capacity("east"), shares.capacity("north")
        assert (east(), north()) == (12, 12)  # nobody busy: either may fill the window
        held["a"] = asyncio.Event()
        busy = asyncio.ensure_future(shares.counted("east", submit)("a"))
        await asyncio.sleep(0)
        assert (east(), north()) == (12, 6)  # east alone in flight; north gets half
        held["b"] = asyncio.Event()
        other = asyncio.ensure_future(shares.counted("north", submit)("b"))
        await asyncio.sleep(0)
        assert (east(), north(), shares.capacity("west")()) == (6, 6, 4)
        held["a"].set()
        held["b"].set()
        await asyncio.gather(busy, other)
        assert (east(), north()) == (12, 12)

    asyncio.run(scenario())
    assert WindowShares(lambda: 0).capacity("east")() == 0
