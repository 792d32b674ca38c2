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


def test_a_woken_sender_claims_at_once_instead_of_at_its_next_poll(world):
    """After an MO's commit the SMPP engine wakes its sender, so a reply does not wait for
    the poll (here an hour: only the wake can send it)."""
    from vasguard.channels.sms.sender import OutboxSender
    from vasguard.domain.mt_parts import Submitted

    submitted = []

    async def submit(part):
        submitted.append(part)
        return Submitted(part, f"id-{len(submitted)}")

    async def scenario():
        sender = OutboxSender(
            world.uow, world.clock, submit, owner="t", capacity=lambda: 10, interval=3600
        )
        sender.start()
        try:
            await asyncio.sleep(0.2)  # the first claim ran and found nothing
            assert submitted == []
            await asyncio.to_thread(world.sms, "0000")
            sender.wake()
            for _ in range(500):
                if submitted:
                    break
                await asyncio.sleep(0.01)
        finally:
            await sender.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert len(submitted) >= 1
