"""A listing of more than 99 items is cancellable by number, on SQLite and PostgreSQL."""

from datetime import timedelta

from conftest import ALICE, HOME
from sqlalchemy import select

from vasguard.store import tables

S = tables.subscriptions
HELD = 120


def hold_many(world, count=HELD):
    """Alice holds ``count`` active monthly services, ordered a minute apart, so item n
    of her listing is service n. Inserted directly: ordering and confirming 120 times
    through the dialogue would test nothing more."""
    now = world.clock.now()
    with world.engine.begin() as conn:
        evidence = conn.execute(
            tables.messages.insert()
            .values(
                subscriber_id=1,
                province=HOME,
                msisdn=ALICE,
                direction="mo",
                service_number="10086",
                kind="mo",
                text="是",
                encoding="ucs2",
                parts=1,
                status="received",
                created_at=now,
                handled_at=now,
            )
            .returning(tables.messages.c.id)
        ).scalar_one()
        conn.execute(
            tables.services.insert(),
            [
                {
                    "id": 1000 + n,
                    "code": f"7{n:07d}",
                    "name": f"业务{n}",
                    "provider_id": 2,
                    "category": "news",
                    "billing_mode": "monthly",
                    "price_fen": 100,
                    "group_service": False,
                }
                for n in range(1, count + 1)
            ],
        )
        conn.execute(
            S.insert(),
            [
                {
                    "subscriber_id": 1,
                    "province": HOME,
                    "service_id": 1000 + n,
                    "state": "active",
                    "channel": "partner",
                    "ordered_at": now - timedelta(days=1, minutes=count - n),
                    "confirmed_at": now - timedelta(days=1),
                    "confirmation_mo_id": evidence,
                }
                for n in range(1, count + 1)
            ],
        )
        return list(conn.execute(select(S.c.id).order_by(S.c.service_id)).scalars())


def states(world, ids):
    by_id = {r["id"]: r["state"] for r in world.rows(S, S.c.id.in_(ids))}
    return [by_id[i] for i in ids]


def listing_lines(reply):
    return [line for line in reply.splitlines() if line[:1].isdigit()]


def test_item_100_then_the_rest_of_a_120_item_listing(world):
    ids = hold_many(world)
    lines = listing_lines(world.sms("0000").replies[0])
    assert len(lines) == HELD
    assert lines[99].startswith("100.业务100 ")

    world.sms("100")
    assert states(world, ids) == ["active"] * 99 + ["cancelled"] + ["active"] * 20

    # The next listing has 119 items: 1-120 names one it does not have, so nothing changes.
    assert len(listing_lines(world.sms("0000").replies[0])) == HELD - 1
    assert "共119项" in world.sms("1-120").replies[0]
    assert states(world, ids).count("cancelled") == 1

    # TD + three digits: item 100 of this listing is service 101 (no service is coded 100).
    world.sms("TD100")
    assert states(world, ids) == ["active"] * 99 + ["cancelled"] * 2 + ["active"] * 19

    assert len(listing_lines(world.sms("0000").replies[0])) == HELD - 2
    world.sms("1-118")
    assert states(world, ids) == ["cancelled"] * HELD
    assert "没有订购任何包月增值业务" in world.sms("0000").replies[0]
