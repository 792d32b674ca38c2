"""Random lives of a few subscribers over several months, against a reference ledger.

Each example draws a charging policy, then a sequence of orders, confirmations, declines,
reminder runs with delivered, failed or missing receipts, cancellations, complaints and
their resolution, clock moves and bill runs. The reference model applies the pure policy
(``domain.charging.assess``) subscription by subscription in Python; after every step the
bill run's ledger must equal the model's, and the audit must find nothing.

``VASGUARD_STATEFUL_EXAMPLES`` raises the number of examples (CI default below).
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from conftest import ALICE, BOB, CAROL, SERVICES, T0, World, seed_world
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, delete, select

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.charging import (
    ChargingPolicy,
    FirstMonth,
    Owed,
    Reminder,
    SubscriptionFacts,
    assess,
    plan_fee_owed,
)
from vasguard.domain.clock import FixedClock, local
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.ordering import OrderRefused
from vasguard.domain.periods import Period
from vasguard.domain.subscription import Channel
from vasguard.services.audit import audit_period
from vasguard.services.billing import policy_for, run_bill
from vasguard.services.deployment import Deployment
from vasguard.services.intake import receive_mo
from vasguard.services.orders import place_order
from vasguard.services.outbox import flush, record_receipt
from vasguard.services.reminders import run_reminders
from vasguard.services.resolutions import resolve_complaint
from vasguard.store import tables
from vasguard.store.tables import metadata

EXAMPLES = int(os.environ.get("VASGUARD_STATEFUL_EXAMPLES", "30"))
PEOPLE = [ALICE, BOB, CAROL]
CODES = {s[0]: s[1] for s in SERVICES}
MONTHLY = [1, 2, 3, 4, 7, 8]
SERVICE_FACTS = {s[0]: (s[5], s[6], s[7] is not None) for s in SERVICES}


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


class Ledger(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        empty(self.engine)
        seed_world(self.engine)
        self.world = World(self.engine, FixedClock(T0), Deployment())
        self.smsc = LoopbackSmsc()
        self.rng = random.Random(0)
        self.model: dict[tuple[str, int, str], tuple[str, int]] = {}
        self.periods: set[str] = set()

    @initialize(
        receipts=st.booleans(),
        first=st.sampled_from(list(FirstMonth)),
        lead_hours=st.sampled_from([0, 2, 24]),
    )
    def policy(self, receipts: bool, first: FirstMonth, lead_hours: int) -> None:
        self.world.deployment = replace(
            self.world.deployment,
            require_delivery_receipt=receipts,
            first_month=first.value,
            reminder_lead_time=timedelta(hours=lead_hours),
        )

    # --- acting as subscribers, the network and the operator -----------------------------

    def sms(self, msisdn: str, text: str) -> None:
        w = self.world
        receive_mo(
            w.uow(), w.clock, w.deployment, msisdn=msisdn, to="10086", text=text, rng=self.rng
        )

    def subscriptions(self, *states: str) -> list[dict[str, Any]]:
        s = tables.subscriptions
        return self.world.rows(s, s.c.state.in_(states))

    @rule(
        who=st.sampled_from(PEOPLE),
        service=st.sampled_from(MONTHLY),
        reply=st.sampled_from(["是", "是", "是", "否", None]),
    )
    def order(self, who: str, service: int, reply: str | None) -> None:
        """Order, and usually answer at once (the answer rule answers later ones)."""
        w = self.world
        with contextlib.suppress(OrderRefused):
            placed = place_order(
                w.uow(),
                w.clock,
                w.deployment,
                msisdn=who,
                service_code=CODES[service],
                channel=Channel.PARTNER,
                cause=Cause(CauseKind.API, "partner"),
                rng=self.rng,
            )
            if reply is not None:
                self.sms(who, f"{reply}{placed.code}")

    @rule(pick=st.integers(0, 10), yes=st.booleans())
    def answer(self, pick: int, yes: bool) -> None:
        pending = self.subscriptions("pending_confirmation")
        if pending:
            row = pending[pick % len(pending)]
            msisdn = PEOPLE[row["subscriber_id"] - 1]
            self.sms(msisdn, f"{'是' if yes else '否'}{row['confirmation_code']}")

    def remind(self, outcome: bool | None) -> None:
        w = self.world
        run_reminders(w.uow(), w.clock, w.deployment)
        flush(w.uow(), w.clock, self.smsc)
        if outcome is not None:
            self.receipts(outcome)

    def receipts(self, delivered: bool) -> None:
        for receipt in self.smsc.receipts(self.world.clock.now(), delivered=delivered):
            record_receipt(self.world.uow(), receipt)

    @rule(pick=st.integers(0, 10), complain=st.booleans())
    def cancel_or_complain(self, pick: int, complain: bool) -> None:
        active = self.subscriptions("active")
        if active:
            row = active[pick % len(active)]
            code = CODES[row["service_id"]]
            self.sms(
                PEOPLE[row["subscriber_id"] - 1], f"TS{code} 不认可" if complain else f"TD{code}"
            )

    @rule(pick=st.integers(0, 10))
    def resolve(self, pick: int) -> None:
        c = tables.complaints
        open_ = self.world.rows(c, c.c.status == "open")
        if open_:
            w = self.world
            resolve_complaint(
                w.uow(),
                w.clock,
                w.deployment,
                ticket=open_[pick % len(open_)]["ticket"],
                refund=False,
                cause=Cause(CauseKind.API, "care"),
            )

    @rule(
        hours=st.integers(1, 24 * 12),
        seconds=st.sampled_from([0, 1, 59]),
        receipt=st.sampled_from([True, True, False, None, "no jobs"]),
    )
    def advance(self, hours: int, seconds: int, receipt: bool | str | None) -> None:
        """Time passes and, as in production, the reminder job and the outbox run."""
        self.world.clock.advance(timedelta(hours=hours, seconds=seconds))
        if receipt != "no jobs":
            self.remind(receipt if isinstance(receipt, bool) else None)

    @rule(previous=st.booleans(), chunk=st.integers(1, 3), hours=st.integers(0, 24 * 10))
    def bill(self, previous: bool, chunk: int, hours: int) -> None:
        """Some hours later (the jobs having run meanwhile), bill this or the last month."""
        w = self.world
        if hours:
            self.advance(hours, 0, True)
        now = w.clock.now()
        period = Period.parse(f"{local(now):%Y-%m}")
        if previous and str(period) != "2026-11":
            period = Period.parse(f"{local(period.start - timedelta(days=1)):%Y-%m}")
        run_bill(
            w.uow(), w.clock, w.deployment, str(period), wall_clock=FixedClock(now), chunk=chunk
        )
        self.periods.add(str(period))
        self.expect(period, now)

    # --- the reference model -------------------------------------------------------------

    def expect(self, period: Period, run_at: datetime) -> None:
        """Apply the pure policy to every subscription and plan, as of the run."""
        policy: ChargingPolicy = policy_for(self.world.deployment)
        t = tables
        messages = {m["id"]: m for m in self.world.rows(t.messages)}
        complaints = self.world.rows(t.complaints, t.complaints.c.status == "open")
        held = {c["subscription_id"] for c in complaints}
        plans = self.world.rows(t.subscriber_plans)
        included = {(r["plan_id"], r["service_id"]) for r in self.world.rows(t.plan_services)}
        fees = {r["id"]: r["monthly_fee_fen"] for r in self.world.rows(t.plans)}
        for s in self.world.rows(t.subscriptions):
            mode, price, exempt = SERVICE_FACTS[s["service_id"]]
            sent = messages.get(s["reminder_mt_id"])
            reminder = None
            if sent is not None:
                delivered = sent["receipt_at"] if sent["receipt_status"] == "delivered" else None
                reminder = Reminder(sent["sent_at"], delivered)
            facts = SubscriptionFacts(
                confirmed_at=s["confirmed_at"] if s["confirmation_mo_id"] else None,
                ended_at=s["ended_at"],
                billing_mode=mode,
                price_fen=price,
                exempt=exempt,
                group_paid=False,
                reminder=reminder,
                plan_cover=tuple(
                    (p["effective_from"], p["effective_to"])
                    for p in plans
                    if p["subscriber_id"] == s["subscriber_id"]
                    and (p["plan_id"], s["service_id"]) in included
                ),
                complaint_open=s["id"] in held,
            )
            owed = assess(facts, period, run_at, policy)
            if isinstance(owed, Owed):
                self.model.setdefault(
                    ("s", s["id"], str(period)), (owed.kind.value, owed.amount_fen)
                )
        for p in plans:
            fee = plan_fee_owed(p["effective_from"], p["effective_to"], fees[p["plan_id"]], period)
            if fee is not None:
                self.model.setdefault(("p", p["id"], str(period)), (fee.kind.value, fee.amount_fen))

    @invariant()
    def ledger_matches_the_model_and_passes_the_audit(self) -> None:
        c = tables.charges
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    c.c.subscription_id,
                    c.c.subscriber_plan_id,
                    c.c.period,
                    c.c.kind,
                    c.c.amount_fen,
                )
            ).all()
        ledger = {
            ("s", r[0], r[2]) if r[0] is not None else ("p", r[1], r[2]): (r[3], r[4]) for r in rows
        }
        assert ledger == self.model
        event(f"charges: {min(len(ledger) // 3 * 3, 9)}+")
        for period in self.periods:
            report = audit_period(self.world.uow(), self.world.deployment, period)
            assert report.passed, report.violations


def test_ledger_equals_the_reference_model(engine):
    Ledger.engine = engine
    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
