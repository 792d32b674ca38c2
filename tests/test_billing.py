"""The bill run on SQLite and PostgreSQL: boundaries of the charging policy, end to end.

Orders, confirmations, cancellations and complaints go through the SMS dialogue; reminders
through the reminder job, the outbox and the loopback SMSC's receipts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from conftest import BOB, CAROL, World

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.charging import ExemptCharged, NotBillableYet
from vasguard.domain.clock import FixedClock, parse_instant
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.refusals import InvalidInput
from vasguard.domain.subscription import Channel
from vasguard.services.audit import AuditReport, audit_period
from vasguard.services.billing import BillRunSummary, run_bill
from vasguard.services.intake import receive_mo
from vasguard.services.orders import place_order
from vasguard.services.outbox import flush, record_receipt
from vasguard.services.plans import order_plan
from vasguard.services.reminders import run_reminders
from vasguard.store import tables

C = tables.charges
NEWS, RINGTONE, WEATHER, SCHOOL = "90000001", "90000002", "80100001", "80200001"


@dataclass
class Desk:
    """Drives the world the way the product is used, at local times given as text."""

    world: World
    smsc: LoopbackSmsc = field(default_factory=LoopbackSmsc)
    rng: random.Random = field(default_factory=lambda: random.Random(3))

    def at(self, local: str) -> None:
        self.world.clock.at = parse_instant(local, self.world.deployment.timezone)

    def sms(self, msisdn: str, text: str) -> Any:
        w = self.world
        return receive_mo(
            w.uow(), w.clock, w.deployment, msisdn=msisdn, to="10086", text=text, rng=self.rng
        )

    def order(self, msisdn: str, code: str) -> tuple[int, str]:
        w = self.world
        placed = place_order(
            w.uow(),
            w.clock,
            w.deployment,
            msisdn=msisdn,
            service_code=code,
            channel=Channel.PARTNER,
            cause=Cause(CauseKind.API, "test"),
            rng=self.rng,
        )
        return placed.subscription_id, placed.code

    def subscribe(self, msisdn: str, code: str) -> int:
        subscription_id, confirmation = self.order(msisdn, code)
        self.sms(msisdn, f"是{confirmation}")
        return subscription_id

    def remind(self, *, delivered: bool | None = True) -> None:
        """Run the reminder job and the outbox; ``None``: no receipt comes back (yet)."""
        w = self.world
        run_reminders(w.uow(), w.clock, w.deployment)
        flush(w.uow(), w.clock, self.smsc)
        if delivered is not None:
            self.receipts(delivered=delivered)

    def receipts(self, *, delivered: bool = True) -> None:
        for receipt in self.smsc.receipts(self.world.clock.now(), delivered=delivered):
            record_receipt(self.world.uow(), receipt)

    def bill(self, period: str, at: str | None = None, **policy: Any) -> BillRunSummary:
        w = self.world
        clock = FixedClock(parse_instant(at, w.deployment.timezone)) if at else w.clock
        return run_bill(
            w.uow(),
            clock,
            replace(w.deployment, **policy),
            period,
            wall_clock=FixedClock(clock.now()),
            chunk=1,
        )

    def take_plan(self, msisdn: str, plan_code: str) -> None:
        """Care orders the plan; it takes effect on the 1st of next month."""
        w = self.world
        order_plan(
            w.uow(),
            w.clock,
            w.deployment,
            msisdn=msisdn,
            plan_code=plan_code,
            channel=Channel.CARE,
            cause=Cause(CauseKind.API, "test"),
        )

    def audit(self, period: str) -> AuditReport:
        return audit_period(self.world.uow(), self.world.deployment, period)

    def charges(self, *where: Any) -> list[dict[str, Any]]:
        return self.world.rows(C, *where)

    def charged(self, subscription_id: int) -> dict[str, int]:
        """period → amount for one subscription."""
        return {
            r["period"]: r["amount_fen"]
            for r in self.charges(C.c.subscription_id == subscription_id)
        }


@pytest.fixture
def desk(world: World) -> Desk:
    return Desk(world)


def test_first_charge_waits_for_the_lead_time_after_the_reminder(desk):
    sid = desk.subscribe(BOB, NEWS)  # 2026-11-24 10:00 local
    desk.remind()
    early = desk.bill("2026-11", "2026-11-25T09:59:59")
    assert desk.charged(sid) == {}
    assert early.skipped["not_due"] == 1
    due = desk.bill("2026-11", "2026-11-25T10:00:00")
    assert desk.charged(sid) == {"2026-11": 300}
    assert early.charged == {"plan": 1}  # ALICE's plan fee
    assert due.charged == {"first": 1, "plan": 0}
    [charge] = desk.charges(C.c.subscription_id == sid)
    row = desk.world.rows(tables.subscriptions, tables.subscriptions.c.id == sid)[0]
    assert charge["confirmation_mo_id"] == row["confirmation_mo_id"]
    assert charge["reminder_mt_id"] == row["reminder_mt_id"]
    assert charge["reminder_status"] == "delivered"
    assert charge["bill_run_id"] == due.run_id
    assert desk.audit("2026-11").passed


def test_cancelled_one_second_before_the_first_charge_is_due_is_never_charged(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.at("2026-11-25T09:59:59")
    desk.sms(BOB, f"TD{NEWS}")
    summary = desk.bill("2026-11", "2026-12-01T02:00:00")
    desk.bill("2026-12", "2026-12-01T02:00:00")
    desk.bill("2027-01", "2027-01-01T02:00:00")
    assert desk.charged(sid) == {}
    assert summary.skipped["cancelled_before_first_charge"] == 1
    assert desk.audit("2026-11").passed


def test_cancelled_one_second_after_the_run_is_charged_once(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-11-25T10:00:00")
    desk.at("2026-11-25T10:00:01")
    desk.sms(BOB, f"TD{NEWS}")
    desk.bill("2026-11", "2026-12-01T02:00:00")
    desk.bill("2026-12", "2026-12-01T02:00:00")
    assert desk.charged(sid) == {"2026-11": 300}
    assert desk.audit("2026-11").passed and desk.audit("2026-12").passed


def test_periods_are_local_calendar_months(desk):
    """An exempt service is due at confirmation: 23:59:59 local on the 30th is November's,
    00:00:00 local on the 1st (16:00 UTC the day before) is December's."""
    desk.at("2026-11-30T23:59:59")
    november = desk.subscribe(BOB, SCHOOL)
    desk.at("2026-12-01T00:00:00")
    december = desk.subscribe(CAROL, SCHOOL)
    desk.bill("2026-11", "2026-12-01T00:30:00")
    desk.bill("2026-12", "2026-12-01T00:30:00")
    assert desk.charged(november) == {"2026-11": 300, "2026-12": 300}
    assert desk.charged(december) == {"2026-12": 300}
    [first] = desk.charges(C.c.subscription_id == december)
    assert first["kind"] == "first"
    assert desk.audit("2026-11").passed and desk.audit("2026-12").passed


def test_cancelled_on_the_first_before_the_run_is_not_charged_for_that_month(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-11-30T12:00:00")
    desk.at("2026-12-01T00:30:00")
    desk.sms(BOB, f"TD{NEWS}")
    summary = desk.bill("2026-12", "2026-12-01T02:00:00")
    assert desk.charged(sid) == {"2026-11": 300}
    assert summary.skipped["ended"] == 1


def test_cancelled_on_the_first_after_the_run_pays_that_month_and_no_more(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-11-30T12:00:00")
    desk.bill("2026-12", "2026-12-01T02:00:00")
    desk.at("2026-12-01T09:00:00")
    desk.sms(BOB, f"TD{NEWS}")
    desk.bill("2026-12", "2026-12-02T02:00:00")
    desk.bill("2027-01", "2027-01-01T02:00:00")
    assert desk.charged(sid) == {"2026-11": 300, "2026-12": 300}
    kinds = [c["kind"] for c in desk.charges(C.c.subscription_id == sid)]
    assert kinds == ["first", "renewal"]
    for period in ("2026-11", "2026-12", "2027-01"):
        assert desk.audit(period).passed


def test_plan_included_service_is_never_charged_and_plan_fees_are(desk):
    """CAROL holds the ring-back tone, then takes P58 (which includes it) from December."""
    sid = desk.subscribe(CAROL, RINGTONE)
    desk.remind()
    desk.take_plan(CAROL, "P58")
    desk.bill("2026-11", "2026-12-01T02:00:00")
    december = desk.bill("2026-12", "2026-12-01T02:00:00")
    desk.bill("2027-01", "2027-01-01T02:00:00")
    assert desk.charged(sid) == {"2026-11": 500}
    assert december.skipped["in_plan"] == 1
    fees = {
        (r["subscriber_id"], r["period"]): r["amount_fen"] for r in desk.charges(C.c.kind == "plan")
    }
    assert fees == {
        (1, "2026-11"): 5800,
        (1, "2026-12"): 5800,
        (1, "2027-01"): 5800,
        (3, "2026-12"): 5800,
        (3, "2027-01"): 5800,
    }
    for period in ("2026-11", "2026-12", "2027-01"):
        assert desk.audit(period).passed


def test_exempt_service_is_charged_without_reminder_and_reported(desk):
    sid = desk.subscribe(BOB, SCHOOL)
    desk.remind()
    assert (
        desk.world.rows(tables.subscriptions, tables.subscriptions.c.id == sid)[0]["reminder_mt_id"]
        is None
    )
    summary = desk.bill("2026-11", "2026-11-24T10:01:00")
    assert desk.charged(sid) == {"2026-11": 300}
    [charge] = desk.charges(C.c.subscription_id == sid)
    assert charge["reminder_mt_id"] is None
    assert summary.exempt == [ExemptCharged(SCHOOL, "集团统付业务由单位确认", 1, 300)]
    assert desk.audit("2026-11").passed


def test_unreminded_and_unconfirmed_subscriptions_are_not_charged(desk):
    reminded = desk.subscribe(BOB, NEWS)
    desk.remind()
    unreminded = desk.subscribe(BOB, WEATHER)  # ordered after the reminder job ran
    desk.order(CAROL, NEWS)  # never confirmed
    summary = desk.bill("2026-11", "2026-12-01T02:00:00")
    assert desk.charged(reminded) == {"2026-11": 300}
    assert desk.charged(unreminded) == {}
    assert summary.skipped["awaiting_reminder"] == 1
    assert summary.skipped["not_confirmed"] == 1


def test_rerun_charges_nothing_twice(desk):
    desk.subscribe(BOB, NEWS)
    desk.subscribe(CAROL, WEATHER)
    desk.remind()
    first = desk.bill("2026-11", "2026-12-01T02:00:00")
    again = desk.bill("2026-11", "2026-12-01T03:00:00")
    assert first.total_charged == 3 and first.total_fen == 300 + 200 + 5800
    assert again.total_charged == 0
    assert again.skipped["already_charged"] == 3
    assert len(desk.charges()) == 3
    runs = desk.world.rows(tables.bill_runs)
    assert [r["status"] for r in runs] == ["finished", "finished"]
    assert runs[0]["charged_count"] == 3 and runs[0]["charged_fen"] == 6300


def test_open_complaint_holds_the_charge_until_resolved(desk):
    from vasguard.services.resolutions import resolve_complaint

    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.at("2026-11-25T09:00:00")
    desk.sms(BOB, f"TS{NEWS} 我没有订购")
    held = desk.bill("2026-11", "2026-11-26T02:00:00")
    assert desk.charged(sid) == {}
    assert held.skipped["held_by_complaint"] == 1
    [complaint] = desk.world.rows(tables.complaints)
    w = desk.world
    resolve_complaint(
        w.uow(),
        w.clock,
        w.deployment,
        ticket=complaint["ticket"],
        refund=False,
        cause=Cause(CauseKind.API, "care"),
    )
    desk.bill("2026-11", "2026-11-26T03:00:00")
    assert desk.charged(sid) == {"2026-11": 300}


def test_delivery_receipt_required_waits_for_delivery(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind(delivered=None)
    pending = desk.bill("2026-11", "2026-11-26T02:00:00", require_delivery_receipt=True)
    assert pending.skipped["reminder_not_delivered"] == 1
    desk.at("2026-11-26T12:00:00")
    desk.receipts(delivered=True)
    desk.bill("2026-11", "2026-11-27T11:59:59", require_delivery_receipt=True)
    assert desk.charged(sid) == {}
    desk.bill("2026-11", "2026-11-27T12:00:00", require_delivery_receipt=True)
    assert desk.charged(sid) == {"2026-11": 300}
    assert desk.audit("2026-11").passed


def test_failed_reminder_blocks_the_charge_only_when_receipts_are_required(desk):
    sid = desk.subscribe(BOB, NEWS)
    desk.remind(delivered=False)
    desk.bill("2026-11", "2026-12-01T02:00:00", require_delivery_receipt=True)
    assert desk.charged(sid) == {}
    desk.bill("2026-11", "2026-12-01T03:00:00")
    assert desk.charged(sid) == {"2026-11": 300}


@pytest.mark.parametrize(("first_month", "amount"), [("full", 300), ("prorated", 60), ("free", 0)])
def test_first_month_policy(desk, first_month, amount):
    """Due 2026-11-25 10:00 local: 6 of November's 30 days are left, counting the 25th."""
    sid = desk.subscribe(BOB, NEWS)
    desk.remind()
    desk.bill("2026-11", "2026-12-01T02:00:00", first_month=first_month)
    desk.bill("2026-12", "2026-12-01T02:00:00", first_month=first_month)
    assert desk.charged(sid) == {"2026-11": amount, "2026-12": 300}
    assert desk.audit("2026-11").passed and desk.audit("2026-12").passed


def test_a_period_cannot_be_billed_before_it_begins(desk):
    with pytest.raises(NotBillableYet, match="2026-12 has not begun"):
        desk.bill("2026-12", "2026-11-30T23:59:59")
    w = desk.world
    clock = FixedClock(parse_instant("2026-11-30T23:59:59"))
    with pytest.raises(InvalidInput, match="cannot be billed"):
        run_bill(w.uow(), clock, w.deployment, "2026-12", wall_clock=clock, simulate=True)
    with pytest.raises(ValueError, match="YYYY-MM"):
        desk.bill("2026-13", "2026-11-30T23:59:59")


def test_a_period_not_begun_by_the_wall_clock_is_not_billed_unless_simulated(desk):
    """Invariant 10: today is 2026-12-01 10:00 local; January and a run dated after today
    are refused, write nothing, and can be replayed with ``simulate``."""
    w = desk.world
    today = FixedClock(parse_instant("2026-12-01T10:00:00"))
    january = FixedClock(parse_instant("2027-01-01T02:00:00"))

    def bill(period: str, clock: FixedClock, **options: Any) -> BillRunSummary:
        return run_bill(w.uow(), clock, w.deployment, period, wall_clock=today, **options)

    with pytest.raises(NotBillableYet, match="2027-01 has not begun"):
        bill("2027-01", january)
    with pytest.raises(NotBillableYet, match="later than now"):
        bill("2026-12", january)
    assert w.rows(tables.bill_runs) == [] and desk.charges() == []
    assert bill("2026-12", today).charged == {"plan": 1}
    assert bill("2027-01", january, simulate=True).charged == {"plan": 1}


@pytest.mark.parametrize("period", ["9999-12", "0001-01"])
def test_a_period_out_of_range_is_refused_before_anything_is_written(desk, period):
    w = desk.world
    clock = FixedClock(parse_instant("2026-12-01T10:00:00"))
    with pytest.raises(InvalidInput, match="periods run from 1970-01 to 2999-12"):
        run_bill(w.uow(), clock, w.deployment, period, wall_clock=clock, simulate=True)
    assert w.rows(tables.bill_runs) == [] and w.rows(tables.events) == []


@pytest.mark.parametrize(("period", "at"), [("1970-01", "1970-01-01"), ("2999-12", "2999-12-31")])
def test_the_first_and_last_periods_kept_can_be_billed(desk, period, at):
    summary = desk.bill(period, f"{at}T23:00:00")
    assert summary.period == period
    assert [r["status"] for r in desk.world.rows(tables.bill_runs)] == ["finished"]


def test_cli_bill_and_audit(desk, db_url, monkeypatch):
    from typer.testing import CliRunner

    from vasguard.cli.main import app

    desk.subscribe(BOB, NEWS)
    desk.remind()
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(app, ["jobs", "bill", "--period", "2026-11", "--at", "2026-12-01T02:00"])
    assert result.exit_code == 0, result.output
    assert "charged: first" in result.output and "61元" in result.output
    result = runner.invoke(app, ["audit", "--period", "2026-11", "--json"])
    assert result.exit_code == 0, result.output
    assert '"violation_count": 0' in result.output
