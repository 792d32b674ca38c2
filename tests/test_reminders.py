"""The reminder job on both stores: the window's edges, exemptions, re-runs and the text."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from conftest import ALICE, BOB, CAROL, HOME
from sqlalchemy import update
from typer.testing import CliRunner

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.cli.main import app
from vasguard.domain.catalogue import Subscriber
from vasguard.domain.clock import parse_instant
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.reminders import (
    ExemptService,
    NoReminder,
    ReminderCandidate,
    ReminderFacts,
    why_no_reminder,
)
from vasguard.domain.subscription import Channel, State
from vasguard.services.orders import place_order
from vasguard.services.outbox import flush
from vasguard.services.reminders import run_reminders
from vasguard.store import tables

CAUSE = Cause(CauseKind.API, "test")


def at(world, local_time):
    world.clock.at = parse_instant(local_time)


def subscribe(world, msisdn=ALICE, service="80100001"):
    return world.subscribe(service, msisdn)


def run(world, **kwargs):
    return run_reminders(world.uow(), world.clock, world.deployment, **kwargs)


def reminders(world):
    return world.rows(tables.messages, tables.messages.c.kind == "reminder")


def test_queued_at_2159_and_never_twice(world):
    sid = subscribe(world)
    at(world, "2026-11-24T21:59:00")
    first = run(world)
    assert (first.queued, first.waiting_outside_window) == (1, 0)
    [mt] = reminders(world)
    assert mt["subscription_id"] == sid and mt["status"] == "queued"
    assert mt["send_after"] == world.clock.now()
    sub = world.rows(tables.subscriptions, tables.subscriptions.c.id == sid)[0]
    assert sub["reminder_mt_id"] == mt["id"]
    assert sub["reminder_queued_at"] == world.clock.now()
    [event] = world.rows(tables.events, tables.events.c.kind == "reminder_queued")
    assert (event["entity_id"], event["cause_kind"]) == (sid, "job")

    world.clock.advance(timedelta(minutes=1))
    again = run(world)
    assert (again.queued, again.waiting_outside_window) == (0, 0)
    assert len(reminders(world)) == 1
    assert len(world.rows(tables.events, tables.events.c.kind == "reminder_queued")) == 1


@pytest.mark.parametrize("late", ["2026-11-24T22:00:00", "2026-11-24T22:01:00"])
def test_outside_the_window_nothing_is_queued_until_0800(world, late):
    subscribe(world)
    at(world, late)
    night = run(world)
    assert (night.queued, night.waiting_outside_window) == (0, 1)
    assert night.zones_outside_window == ["Asia/Shanghai"]
    assert reminders(world) == []
    at(world, "2026-11-25T07:59:59")
    assert run(world).queued == 0
    at(world, "2026-11-25T08:00:00")
    morning = run(world)
    assert (morning.queued, morning.waiting_outside_window) == (1, 0)
    assert morning.zones_outside_window == []
    assert len(reminders(world)) == 1


def test_the_window_is_the_subscribers_local_time(world):
    """A province at UTC+6 (no DST) is still inside its window at 22:01 Beijing time."""
    with world.engine.begin() as conn:
        conn.execute(
            update(tables.provinces)
            .where(tables.provinces.c.code == HOME)
            .values(timezone="Asia/Urumqi")
        )
    subscribe(world)
    at(world, "2026-11-24T22:01:00")  # 20:01 in Urumqi
    assert run(world).queued == 1
    text = reminders(world)[0]["text"]
    # times in the text are the subscriber's: ordered 10:00 Beijing = 08:00 Urumqi
    assert "2026年11月24日08:00订购" in text
    assert "2026年11月25日20:01后开始扣费" in text


def test_reminder_text_carries_everything_needed_to_act(world):
    subscribe(world)
    at(world, "2026-11-24T15:30:00")
    run(world)
    text = reminders(world)[0]["text"]
    for part in (
        "天气预报",
        "星云信息",
        "业务代码80100001",
        "2元/月",
        "2026年11月24日10:00",  # ordered
        "2026年11月25日15:30后开始扣费",  # queued + 24 h lead
        "TD80100001",
        "TS80100001",
        "免费",
    ):
        assert part in text, part


def test_english_subscribers_get_english_reminders(world):
    subscribe(world, msisdn=CAROL)
    run(world)
    text = reminders(world)[0]["text"]
    assert text.startswith("[10086] Reminder") and 'reply "TD80100001"' in text


def test_exempt_service_gets_no_reminder_and_is_reported_with_reason(world):
    subscribe(world, service="80200001")  # 校讯通, group-paid, exempt
    subscribe(world, msisdn=BOB, service="80200001")
    subscribe(world, service="80100001")
    result = run(world)
    assert result.queued == 1
    assert result.exempt == [
        ExemptService("80200001", "校讯通", "校园通科技", "集团统付业务由单位确认", 2)
    ]
    assert [m["subscription_id"] for m in reminders(world)] == [3]
    exempt_rows = world.rows(tables.subscriptions, tables.subscriptions.c.service_id == 7)
    assert all(r["reminder_mt_id"] is None for r in exempt_rows)


def test_only_confirmed_monthly_covered_and_not_plan_included(world):
    subscribe(world, msisdn=BOB, service="90000002")
    with world.engine.begin() as conn:  # BOB's plan now includes 彩铃: not charged, not reminded
        conn.execute(
            tables.subscriber_plans.insert().values(
                subscriber_id=2,
                province=HOME,
                plan_id=1,
                effective_from=world.clock.now() - timedelta(days=1),
                ordered_at=world.clock.now() - timedelta(days=30),
                channel="care",
            )
        )
    place_order(  # pending, never confirmed
        world.uow(),
        world.clock,
        world.deployment,
        msisdn=ALICE,
        service_code="80100002",
        channel=Channel.PARTNER,
        cause=CAUSE,
    )
    assert run(world).queued == 0


def test_chunks_are_committed_one_by_one_and_cover_everyone(world):
    for msisdn in (ALICE, BOB, CAROL):
        subscribe(world, msisdn=msisdn)
        subscribe(world, msisdn=msisdn, service="80100002")
    seen = []
    result = run(world, chunk=2, progress=lambda stage, done: seen.append((stage, done)))
    assert result.queued == 6
    assert seen == [("reminders", 2), ("reminders", 4), ("reminders", 6)]
    assert len({m["subscription_id"] for m in reminders(world)}) == 6
    assert all(r["reminder_mt_id"] for r in world.rows(tables.subscriptions))


def test_queued_reminders_go_out_with_the_outbox(world):
    subscribe(world)
    run(world)
    smsc = LoopbackSmsc()
    flush(world.uow(), world.clock, smsc)
    assert "扣费" in smsc.inbox(ALICE)[-1]
    assert reminders(world)[0]["status"] == "sent"


@pytest.fixture
def cli(world, db_url, monkeypatch):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_job_queues_sends_and_reports(cli, world):
    subscribe(world)
    subscribe(world, service="80200001")
    night = cli("jobs", "reminders", "--at", "2026-11-24T22:01:00", "--json")
    assert night.exit_code == 0, night.output
    summary = json.loads(night.stdout)
    assert (summary["queued"], summary["waiting_outside_window"]) == (0, 1)
    day = cli("jobs", "reminders", "--at", "2026-11-25T08:00:00")
    assert day.exit_code == 0, day.output
    for part in ("charge reminders", "80200001", "集团统付业务由单位确认", "loopback"):
        assert part in day.stdout, part
    [mt] = reminders(world)
    assert (mt["status"], mt["receipt_status"]) == ("delivered", "delivered")
    assert mt["sent_at"] == parse_instant("2026-11-25T08:00:00")


def test_concurrent_runs_never_queue_a_reminder_twice(world):
    for msisdn in (ALICE, BOB, CAROL):
        for service in ("80100001", "80100002", "90000001"):
            subscribe(world, msisdn=msisdn, service=service)
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda _: run(world, chunk=2), range(3)))
    assert sum(r.queued for r in runs) == 9
    assert len(reminders(world)) == 9
    assert len({m["subscription_id"] for m in reminders(world)}) == 9


# --- who gets a reminder: the job says what domain/reminders.py says ----------------

services, subscribers = tables.services, tables.subscribers
NOT_ALICES_WEATHER = {  # each makes ALICE's 天气预报 (service 3) unfit for a reminder
    "group_paid": update(services).where(services.c.id == 3).values(group_paid=True),
    "0_fen_monthly": update(services).where(services.c.id == 3).values(price_fen=0),
    "exempt": update(services).where(services.c.id == 3).values(reminder_exempt_reason="技术原因"),
    "plan_included": tables.plan_services.insert().values(plan_id=1, service_id=3),
    "suspended": update(subscribers).where(subscribers.c.id == 1).values(status="suspended"),
    "closed": update(subscribers).where(subscribers.c.id == 1).values(status="closed"),
}


@pytest.mark.parametrize(("case", "expected"), [(c, 0) for c in NOT_ALICES_WEATHER] + [("", 1)])
def test_who_is_reminded_inside_and_counted_outside_the_window(world, case, expected):
    subscribe(world)
    if case:
        with world.engine.begin() as conn:
            conn.execute(NOT_ALICES_WEATHER[case])
    at(world, "2026-11-24T22:01:00")
    assert run(world).waiting_outside_window == expected  # count_due
    at(world, "2026-11-25T08:00:00")
    assert run(world).queued == expected  # due
    assert len(reminders(world)) == expected


def test_a_suspended_numbers_reminder_waits_until_it_is_active_again(world):
    sid = subscribe(world)
    set_status = update(subscribers).where(subscribers.c.id == 1)
    with world.engine.begin() as conn:
        conn.execute(set_status.values(status="suspended"))
    assert run(world).queued == 0
    with world.engine.begin() as conn:
        conn.execute(set_status.values(status="active"))
    assert run(world).queued == 1
    assert [m["subscription_id"] for m in reminders(world)] == [sid]


def _grid(world):
    """Subscriptions of every kind of service × subscriber × state, written directly, and
    plans in force, ordered and ended; the facts ``why_no_reminder`` judges each by."""
    now = world.clock.now()
    with world.engine.begin() as conn:
        conn.execute(
            services.insert(),
            [
                {"id": 9, "code": "80200003", "name": "集团彩铃", "provider_id": 3,
                 "category": "ringback", "billing_mode": "monthly", "price_fen": 500,
                 "group_service": True, "group_paid": True},
                {"id": 10, "code": "80100005", "name": "零元包月", "provider_id": 2,
                 "category": "news", "billing_mode": "monthly", "price_fen": 0,
                 "group_service": False, "group_paid": False},
            ],
        )  # fmt: skip
        conn.execute(
            subscribers.insert(),
            [
                {"id": 4, "msisdn": "13800000004", "province": HOME, "status": "suspended",
                 "created_at": now},
                {"id": 5, "msisdn": "13800000005", "province": HOME, "status": "closed",
                 "created_at": now},
            ],
        )  # fmt: skip
        conn.execute(  # BOB's plan starts tomorrow, CAROL's ended yesterday: neither in force
            tables.subscriber_plans.insert(),
            [
                {"subscriber_id": 2, "province": HOME, "plan_id": 1, "channel": "care",
                 "effective_from": now + timedelta(days=1), "ordered_at": now,
                 "effective_to": None},
                {"subscriber_id": 3, "province": HOME, "plan_id": 1, "channel": "care",
                 "effective_from": now - timedelta(days=60), "ordered_at": now,
                 "effective_to": now - timedelta(days=1)},
            ],
        )  # fmt: skip
        conn.execute(tables.plan_services.insert().values(plan_id=1, service_id=9))
    held = world.rows(tables.subscriber_plans)
    included = {(r["plan_id"], r["service_id"]) for r in world.rows(tables.plan_services)}
    catalogue = world.rows(services)
    states = {
        "active": {"state": "active", "reminder_mt_id": None},
        "reminded": {"state": "active", "reminder_mt_id": 1},
        "cancelled": {"state": "cancelled", "reminder_mt_id": None, "ended_at": now},
        "pending": {"state": "pending_confirmation", "reminder_mt_id": None},
    }
    rows, facts = [], {}
    for subscriber in world.rows(subscribers):
        for service in catalogue:
            for variant in states.values():
                sid = len(rows) + 1
                confirmed = variant["state"] != "pending_confirmation"
                rows.append(
                    {
                        "id": sid,
                        "subscriber_id": subscriber["id"],
                        "province": HOME,
                        "service_id": service["id"],
                        "channel": "partner",
                        "ordered_at": now - timedelta(days=2),
                        "confirmed_at": now - timedelta(days=1) if confirmed else None,
                        "confirmation_mo_id": 1 if confirmed else None,
                        "ended_at": None,
                    }
                    | variant
                )
                in_plan = any(
                    h["subscriber_id"] == subscriber["id"]
                    and (h["plan_id"], service["id"]) in included
                    and h["effective_from"] <= now
                    and (h["effective_to"] is None or h["effective_to"] > now)
                    for h in held
                )
                facts[sid] = ReminderFacts(
                    state=State(variant["state"]),
                    reminded=variant["reminder_mt_id"] is not None,
                    billing_mode=service["billing_mode"],
                    price_fen=service["price_fen"],
                    group_paid=service["group_paid"],
                    exempt=service["reminder_exempt_reason"] is not None,
                    subscriber_status=subscriber["status"],
                    in_plan=in_plan,
                )
    with world.engine.begin() as conn:
        conn.execute(tables.subscriptions.insert(), rows)
    return facts


def test_the_job_reminds_exactly_whom_the_predicate_names(world):
    """``store/reminders.py`` restates ``why_no_reminder`` in SQL: on every combination of
    service, subscriber status, subscription state and plan, both pick the same rows."""
    facts = _grid(world)
    reasons = {sid: why_no_reminder(f) for sid, f in facts.items()}
    assert set(reasons.values()) == {*NoReminder, None}  # the grid meets every reason
    expected = sorted(sid for sid, reason in reasons.items() if reason is None)
    now = world.clock.now()
    with world.uow() as uow:
        due = uow.reminders.due(now, [HOME], 0, len(facts))
        assert uow.reminders.count_due(now, [HOME]) == len(expected)
    assert [c.subscription_id for c in due] == expected
    assert due[0] == ReminderCandidate(
        subscription_id=expected[0],
        subscriber=Subscriber(1, ALICE, HOME, "zh", "active"),
        ordered_at=now - timedelta(days=2),
        service_code="90000001",
        service_name="手机报",
        provider_name="中国移动",
        price_fen=300,
    )


def test_exempt_services_are_typed_rows(world):
    subscribe(world, service="80200001")
    with world.uow() as uow:
        assert uow.reminders.exempt() == [
            ExemptService("80200001", "校讯通", "校园通科技", "集团统付业务由单位确认", 1)
        ]
