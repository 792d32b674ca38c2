"""The audit catches wrongful charges from stored rows alone, on SQLite and PostgreSQL.

Each test forges the kind of row a buggy bill run would write, straight into the table,
and expects the audit to name the charge and the rule.
"""

from __future__ import annotations

import pytest
from conftest import BOB, CAROL
from sqlalchemy import update
from test_billing import NEWS, RINGTONE, WEATHER, Desk

from vasguard.domain.clock import parse_instant
from vasguard.domain.refusals import InvalidInput
from vasguard.services.audit import audit_period
from vasguard.store import tables

C = tables.charges
S = tables.subscriptions


@pytest.fixture
def desk(world):
    return Desk(world)


def forge(desk: Desk, subscription_id: int, period: str, at: str, **values) -> int:
    """Write a charge as a buggy bill run might: evidence copied from the subscription."""
    [sub] = desk.world.rows(S, S.c.id == subscription_id)
    [run] = desk.world.rows(tables.bill_runs)[-1:]
    row = {
        "subscriber_id": sub["subscriber_id"],
        "province": sub["province"],
        "subscription_id": subscription_id,
        "period": period,
        "kind": "first",
        "amount_fen": 300,
        "bill_run_id": run["id"],
        "confirmation_mo_id": sub["confirmation_mo_id"],
        "reminder_mt_id": sub["reminder_mt_id"],
        "created_at": parse_instant(at),
    } | values
    with desk.world.engine.begin() as conn:
        return conn.execute(C.insert().values(**row).returning(C.c.id)).scalar_one()


def rules(report) -> set[tuple[int, str]]:
    return {(v.charge_id, v.rule) for v in report.violations}


def test_a_clean_ledger_passes(desk):
    desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00")
    report = desk.audit("2026-11")
    assert report.passed and report.charges == 2 and report.by_rule == {}


def test_charge_without_confirmation(desk):
    desk.bill("2026-11", "2026-12-01T02:00:00")
    pending, _ = desk.order(BOB, NEWS)
    forged = forge(desk, pending, "2026-11", "2026-12-01T02:00:00")
    assert (forged, "confirmation_evidence") in rules(desk.audit("2026-11"))


def test_charge_before_the_reminder_lead_time(desk):
    sid = desk.subscribe(BOB, NEWS)  # reminder sent 2026-11-24 10:00 local
    desk.remind()
    desk.bill("2026-11", "2026-11-24T10:00:00")
    forged = forge(desk, sid, "2026-11", "2026-11-25T09:59:59")
    assert rules(desk.audit("2026-11")) == {(forged, "reminder")}


def test_charge_without_a_reminder(desk):
    desk.subscribe(BOB, NEWS)
    desk.remind()
    unreminded = desk.subscribe(BOB, WEATHER)
    desk.bill("2026-11", "2026-12-01T02:00:00")
    forged = forge(desk, unreminded, "2026-11", "2026-12-01T02:00:00", amount_fen=200)
    assert (forged, "reminder") in rules(desk.audit("2026-11"))


def test_undelivered_reminder_when_receipts_are_required(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind(delivered=False)
    desk.bill("2026-11", "2026-12-01T02:00:00", require_delivery_receipt=True)
    forged = forge(desk, sid, "2026-11", "2026-12-01T02:00:00")
    assert (forged, "reminder") in rules(desk.audit("2026-11"))


def test_charge_after_cancellation(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.at("2026-11-25T09:59:59")
    desk.sms(BOB, f"TD{NEWS}")
    desk.bill("2026-11", "2026-12-01T02:00:00")
    forged = forge(desk, sid, "2026-11", "2026-12-01T02:00:00")
    assert rules(desk.audit("2026-11")) == {(forged, "active_at_charge")}


def test_charge_of_a_plan_included_service(desk):
    sid = desk.subscribe(CAROL, RINGTONE)
    desk.remind()
    desk.take_plan(CAROL, "P58")
    desk.bill("2026-12", "2026-12-01T02:00:00")
    forged = forge(desk, sid, "2026-12", "2026-12-01T02:00:00", kind="renewal", amount_fen=500)
    assert rules(desk.audit("2026-12")) == {(forged, "included_in_plan")}


def test_wrong_amounts_kinds_and_runs(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    summary = desk.bill("2026-11", "2026-12-01T02:00:00", first_month="prorated")
    [first] = desk.world.rows(C, C.c.subscription_id == sid)
    [fee] = desk.world.rows(C, C.c.kind == "plan")
    assert first["amount_fen"] == 60 and desk.audit("2026-11").passed
    with desk.world.engine.begin() as conn:
        conn.execute(update(C).where(C.c.id == first["id"]).values(amount_fen=300))
        conn.execute(update(C).where(C.c.id == fee["id"]).values(amount_fen=5000))
    assert rules(desk.audit("2026-11")) == {(first["id"], "amount"), (fee["id"], "plan_fee")}
    with desk.world.engine.begin() as conn:
        conn.execute(update(C).where(C.c.id == first["id"]).values(amount_fen=60, kind="renewal"))
        conn.execute(update(C).where(C.c.id == fee["id"]).values(bill_run_id=summary.run_id + 9))
    assert rules(desk.audit("2026-11")) == {
        (first["id"], "amount"),
        (fee["id"], "bill_run"),
        (fee["id"], "plan_fee"),
    }


def test_one_charge_per_period_is_enforced_by_the_schema(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00")
    with pytest.raises(Exception, match=r"(?i)unique"):
        forge(desk, sid, "2026-11", "2026-12-01T03:00:00")


@pytest.mark.parametrize("period", ["9999-12", "0001-01", "2026-13"])
def test_a_period_the_platform_does_not_keep_is_refused(desk, period):
    with pytest.raises(InvalidInput, match="period"):
        audit_period(desk.world.uow(), desk.world.deployment, period)


def test_cli_exits_1_on_violations(desk, db_url, monkeypatch):
    from typer.testing import CliRunner

    from vasguard.cli.main import app

    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.at("2026-11-25T09:59:59")
    desk.sms(BOB, f"TD{NEWS}")
    desk.bill("2026-11", "2026-12-01T02:00:00")
    forged = forge(desk, sid, "2026-11", "2026-12-01T02:00:00")
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["audit", "--period", "2026-11"])
    assert result.exit_code == 1
    assert f"charge {forged}: active_at_charge" in result.output


def test_a_charge_for_a_period_after_the_ending_is_reported_until_voided(desk):
    """Invariant 10: a ledger written before voiding existed, or by a bug, is caught."""
    from vasguard.domain.events import Cause, CauseKind
    from vasguard.services.resolutions import refund_charge

    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00")
    desk.at("2026-12-10T10:00:00")
    desk.sms(BOB, f"TD{NEWS}")
    # Made in December, before the cancellation, for January and February; never voided.
    january = forge(desk, sid, "2027-01", "2026-12-05T02:00:00", kind="renewal")
    february = forge(desk, sid, "2027-02", "2026-12-05T02:00:00", kind="renewal")
    assert (february, "ended_before_period") in rules(desk.audit("2027-02"))
    w, care = desk.world, Cause(CauseKind.API, "care:test")
    refund_charge(w.uow(), w.clock, charge_id=january, amount_fen=120, cause=care)
    refund_charge(w.uow(), w.clock, charge_id=february, amount_fen=None, cause=care)
    assert (january, "ended_before_period") in rules(desk.audit("2027-01"))
    assert "ended_before_period" not in desk.audit("2027-02").by_rule


def test_the_charge_of_the_month_of_the_ending_is_not_reported(desk):
    desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00")
    desk.at("2026-11-28T10:00:00")
    desk.sms(BOB, f"TD{NEWS}")
    assert "ended_before_period" not in desk.audit("2026-11").by_rule
