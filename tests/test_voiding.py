"""Invariant 10 on SQLite and PostgreSQL: ending a subscription voids its charges for the
periods it was never in service for, by a full refund with an event, in the MO's transaction.

A bill run made too early (``jobs bill --period 2027-01`` in December) is what leaves such a
charge; the bill run now refuses future periods, so the test writes that charge as the early
run did. Cancellation is driven through each SMS path that ends subscriptions.
"""

from __future__ import annotations

import pytest
from conftest import BOB
from test_billing import NEWS, Desk

from vasguard.domain.clock import parse_instant
from vasguard.domain.events import Cause, CauseKind
from vasguard.services.resolutions import refund_charge
from vasguard.store import tables

C = tables.charges
E = tables.events
S = tables.subscriptions


@pytest.fixture
def desk(world):
    return Desk(world)


def early_charge(desk: Desk, subscription_id: int, period: str, at: str) -> int:
    """A renewal for ``period`` as a bill run made at ``at`` (before the period) wrote it."""
    [sub] = desk.world.rows(S, S.c.id == subscription_id)
    with desk.world.engine.begin() as conn:
        return conn.execute(
            C.insert()
            .values(
                subscriber_id=sub["subscriber_id"],
                province=sub["province"],
                subscription_id=subscription_id,
                period=period,
                kind="renewal",
                amount_fen=300,
                confirmation_mo_id=sub["confirmation_mo_id"],
                reminder_mt_id=sub["reminder_mt_id"],
                created_at=parse_instant(at, desk.world.deployment.timezone),
            )
            .returning(C.c.id)
        ).scalar_one()


def held_into_january(desk: Desk) -> dict[str, int]:
    """BOB's news, charged for November and December, and early for January: period → id."""
    sid = desk.subscribe(BOB, NEWS)  # 2026-11-24 10:00 local
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00")
    desk.bill("2026-12", "2026-12-01T03:00:00")
    early_charge(desk, sid, "2027-01", "2026-12-05T02:00:00")
    charged = {r["period"]: r["id"] for r in desk.charges(C.c.subscription_id == sid)}
    assert set(charged) == {"2026-11", "2026-12", "2027-01"}
    desk.at("2026-12-10T10:00:00")
    return charged


def by_td(desk: Desk) -> str:
    return desk.sms(BOB, f"TD{NEWS}").replies[0]


def by_listing(desk: Desk) -> str:
    listing = desk.sms(BOB, "0000").replies[0]
    [item] = [line.split(".")[0] for line in listing.splitlines() if "手机报" in line]
    return desk.sms(BOB, item).replies[0]


def by_cancel_all(desk: Desk) -> str:
    desk.sms(BOB, "0000")
    code = desk.sms(BOB, "QX").replies[0].split("是")[1][:4]
    return desk.sms(BOB, f"是{code}").replies[0]


@pytest.mark.parametrize("cancel", [by_td, by_listing, by_cancel_all])
def test_cancelling_voids_the_charge_for_a_period_not_begun(desk, cancel):
    charged = held_into_january(desk)
    reply = cancel(desk)
    assert "退订后不再收取费用" in reply
    [sub] = desk.world.rows(S)
    assert sub["state"] == "cancelled"
    [cancelled] = desk.world.rows(E, E.c.entity == "subscription", E.c.kind == "cancelled")
    mo = cancelled["cause_ref"]
    [refund] = desk.world.rows(tables.refunds)
    assert (refund["charge_id"], refund["amount_fen"]) == (charged["2027-01"], 300)
    assert (refund["complaint_id"], refund["cause_ref"]) == (None, f"mo:{mo}")
    assert refund["created_at"] == sub["ended_at"] == desk.world.clock.now()
    [voided] = desk.world.rows(E, E.c.kind == "voided")
    assert (voided["entity"], voided["entity_id"]) == ("charge", charged["2027-01"])
    assert (voided["cause_kind"], voided["cause_ref"]) == ("mo", mo)
    assert f'"voided": [{charged["2027-01"]}]' in cancelled["detail"]
    assert desk.audit("2027-01").by_rule.get("ended_before_period") is None


def test_the_charge_of_the_month_cancelled_in_stays(desk):
    charged = held_into_january(desk)
    by_td(desk)
    refunded = {r["charge_id"] for r in desk.world.rows(tables.refunds)}
    assert charged["2026-12"] not in refunded and charged["2026-11"] not in refunded
    assert desk.world.rows(E, E.c.kind == "refunded") == []


def test_an_ending_at_the_first_instant_of_a_period_voids_that_period(desk):
    charged = held_into_january(desk)
    desk.at("2027-01-01T00:00:00")
    by_td(desk)
    [refund] = desk.world.rows(tables.refunds)
    assert refund["charge_id"] == charged["2027-01"]


def test_a_charge_refunded_already_is_not_refunded_again(desk):
    charged = held_into_january(desk)
    w, care = desk.world, Cause(CauseKind.API, "care:test")
    refund_charge(w.uow(), w.clock, charge_id=charged["2027-01"], amount_fen=None, cause=care)
    by_td(desk)
    [refund] = desk.world.rows(tables.refunds)
    assert refund["cause_ref"] == "api:care:test"
    assert desk.world.rows(E, E.c.kind == "voided") == []


def test_cancelling_with_no_later_charge_voids_nothing(desk):
    desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00")
    desk.at("2026-12-10T10:00:00")
    assert "退订后不再收取费用" in by_td(desk)
    assert desk.world.rows(tables.refunds) == []
    assert desk.world.rows(E, E.c.kind == "voided") == []
