"""The loopback SMS engine: a running serve without an SMSC delivers what is queued."""

from __future__ import annotations

import asyncio

from conftest import ALICE

from vasguard.channels.sms.loopback_engine import LoopbackEngine
from vasguard.store import tables


def test_the_loopback_engine_delivers_replies_by_itself_and_stops_cleanly(world):
    reply = world.sms("0000")  # a reply is queued, nothing flushes it

    async def scenario():
        engine = LoopbackEngine(world.uow, world.clock, interval=0.01)
        assert not engine.ready()
        await engine.start()
        assert engine.ready()
        try:
            for _ in range(500):
                rows = world.rows(tables.messages, tables.messages.c.direction == "mt")
                if rows and {r["status"] for r in rows} == {"delivered"}:
                    break
                await asyncio.sleep(0.01)
        finally:
            await engine.stop()
        assert not engine.ready()
        return engine

    engine = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert engine.smsc.inbox(ALICE) == reply.replies
    [mt] = world.rows(tables.messages, tables.messages.c.direction == "mt")
    assert (mt["status"], mt["receipt_status"]) == ("delivered", "delivered")
