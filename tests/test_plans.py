"""Plan orders and changes, their notices, and the "takes effect" notice, on both stores."""

from datetime import UTC, datetime

import pytest
from access_keys import KeyedClient, issue_keys
from conftest import ALICE, BOB, CAROL, HOME
from sqlalchemy import update
from typer.testing import CliRunner

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.cli.main import app
from vasguard.config import Settings
from vasguard.domain.catalogue import Subscriber, UnknownSubscriber
from vasguard.domain.clock import parse_instant
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import InvalidMsisdn
from vasguard.domain.plans import Plan, PlanRefusal, PlanRefused
from vasguard.domain.reminders import PlanNoticeCandidate
from vasguard.domain.subscription import Channel
from vasguard.services.plans import order_plan
from vasguard.services.reminders import run_reminders
from vasguard.store import tables

CAUSE = Cause(CauseKind.API, "test")
DEC_1 = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December 00:00 in Shanghai
plan_rows = tables.subscriber_plans


@pytest.fixture
def plans(world):
    """Two more plans: P88 includes 手机报 and 天气预报, P128 includes nothing."""
    with world.engine.begin() as conn:
        conn.execute(
            tables.plans.insert(),
            [
                {"id": 2, "code": "P88", "name": "88元套餐", "monthly_fee_fen": 8800},
                {"id": 3, "code": "P128", "name": "128元套餐", "monthly_fee_fen": 12800},
            ],
        )
        conn.execute(
            tables.plan_services.insert(),
            [{"plan_id": 2, "service_id": 3}, {"plan_id": 2, "service_id": 1}],
        )
    return world


def order(world, plan, msisdn=ALICE):
    return order_plan(
        world.uow(),
        world.clock,
        world.deployment,
        msisdn=msisdn,
        plan_code=plan,
        channel=Channel.CARE,
        cause=CAUSE,
    )


def at(world, local_time):
    world.clock.at = parse_instant(local_time)


def held(world, subscriber_id):
    return [
        (r["plan_id"], r["effective_from"], r["effective_to"])
        for r in world.rows(plan_rows, plan_rows.c.subscriber_id == subscriber_id)
    ]


def notices(world, kind):
    return world.rows(tables.messages, tables.messages.c.kind == kind)


def snapshot(world):
    return [len(world.rows(t)) for t in (plan_rows, tables.messages, tables.events)]


def test_ordering_a_plan_starts_next_month_and_says_so_at_once(plans):
    ordered = order(plans, "P58", msisdn=BOB)
    assert not ordered.changed
    assert ordered.effective_from == DEC_1 and str(ordered.effective_date) == "2026-12-01"
    assert held(plans, 2) == [(1, DEC_1, None)]
    [notice] = notices(plans, "plan_ordered")
    assert notice["text"] == "【10086】您已申请58元套餐，月费58元，将于2026年12月1日生效。"
    assert notice["send_after"] == plans.clock.now() == ordered.notice_send_after
    row = plans.rows(plan_rows, plan_rows.c.id == ordered.subscriber_plan_id)[0]
    assert row["order_notice_mt_id"] == notice["id"] and row["channel"] == "care"
    [event] = plans.rows(tables.events, tables.events.c.entity == "subscriber_plan")
    assert (event["kind"], event["entity_id"]) == ("plan_ordered", ordered.subscriber_plan_id)


def test_changing_ends_the_current_plan_and_replaces_an_earlier_change(plans):
    january = held(plans, 1)[0][1]
    first = order(plans, "P88")
    assert first.changed
    assert held(plans, 1) == [(1, january, DEC_1), (2, DEC_1, None)]
    second = order(plans, "P128")
    assert held(plans, 1) == [(1, january, DEC_1), (2, DEC_1, DEC_1), (3, DEC_1, None)]
    assert second.changed
    texts = [m["text"] for m in notices(plans, "plan_changed")]
    assert texts == [
        "【10086】您已申请变更为88元套餐，月费88元，将于2026年12月1日生效。",
        "【10086】您已申请变更为128元套餐，月费128元，将于2026年12月1日生效。",
    ]
    kinds = [e["kind"] for e in plans.rows(tables.events, tables.events.c.subscriber_id == 1)]
    assert kinds == ["plan_ending", "plan_changed", "plan_replaced", "plan_changed"]
    # changing back before the change takes effect is a change too
    back = order(plans, "P58")
    assert back.changed and held(plans, 1)[-1] == (1, DEC_1, None)


def test_english_notice(plans):
    order(plans, "P88", msisdn=CAROL)
    assert notices(plans, "plan_ordered")[0]["text"] == (
        "[10086] You have ordered the 88元 plan, CNY 88 a month, effective 2026-12-01."
    )


def test_a_notice_ordered_at_night_waits_for_the_window(plans):
    at(plans, "2026-11-30T23:30:00")  # still November in Shanghai
    ordered = order(plans, "P88", msisdn=BOB)
    assert ordered.effective_from == DEC_1
    assert ordered.notice_send_after == parse_instant("2026-12-01T08:00:00")
    assert notices(plans, "plan_ordered")[0]["send_after"] == ordered.notice_send_after


@pytest.mark.parametrize(
    ("msisdn", "plan", "error", "refusal"),
    [
        (ALICE, "P58", PlanRefused, PlanRefusal.ALREADY_ON_PLAN),
        (ALICE, "NOPE", PlanRefused, PlanRefusal.UNKNOWN_PLAN),
        ("13999999999", "P88", UnknownSubscriber, None),
        ("12345", "P88", InvalidMsisdn, None),
    ],
)
def test_refused_orders_change_nothing(plans, msisdn, plan, error, refusal):
    before = snapshot(plans)
    with pytest.raises(error) as raised:
        order(plans, plan, msisdn=msisdn)
    if refusal is not None:
        assert raised.value.refusal is refusal
    assert snapshot(plans) == before


def test_ordering_the_pending_plan_again_is_refused(plans):
    order(plans, "P88")
    before = snapshot(plans)
    with pytest.raises(PlanRefused):
        order(plans, "P88")
    assert snapshot(plans) == before


def jobs(world):
    return run_reminders(world.uow(), world.clock, world.deployment)


def test_effective_notice_on_the_first_inside_the_window_once(plans):
    order(plans, "P128")  # replaced below: never announced as effective
    order(plans, "P88")
    order(plans, "P58", msisdn=BOB)
    at(plans, "2026-11-30T12:00:00")
    assert (jobs(plans).plan_notices_queued, jobs(plans).plan_notices_waiting) == (0, 0)
    at(plans, "2026-12-01T07:59:00")
    early = jobs(plans)
    assert (early.plan_notices_queued, early.plan_notices_waiting) == (0, 2)
    at(plans, "2026-12-01T08:00:00")
    assert jobs(plans).plan_notices_queued == 2
    texts = {m["msisdn"]: m["text"] for m in notices(plans, "plan_effective")}
    assert texts == {
        ALICE: "【10086】您的88元套餐自2026年12月1日起生效，月费88元，包含：天气预报、手机报。",
        BOB: "【10086】您的58元套餐自2026年12月1日起生效，月费58元，包含：彩铃。",
    }
    for row in plans.rows(plan_rows, plan_rows.c.effective_from == DEC_1):
        announced = row["effective_notice_mt_id"] is not None
        assert announced is (row["effective_to"] is None)
    assert len(plans.rows(tables.events, tables.events.c.kind == "effective_notice_queued")) == 2
    at(plans, "2026-12-02T09:00:00")
    assert jobs(plans).plan_notices_queued == 0
    assert len(notices(plans, "plan_effective")) == 2


def test_plans_in_force_since_earlier_months_are_not_announced(plans):
    """ALICE's P58 took effect in January without a notice: the job does not dig it up."""
    assert jobs(plans).plan_notices_queued == 0
    assert notices(plans, "plan_effective") == []


@pytest.fixture
def cli(plans, db_url, monkeypatch):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_plan_order(cli, plans):
    result = cli("plan", "order", "--msisdn", BOB, "--plan", "P88", "--at", "2026-11-24T10:00:00")
    assert result.exit_code == 0, result.output
    assert "ordered plan P88 from 2026-12-01" in result.stdout
    as_json = cli("plan", "order", "--msisdn", ALICE, "--plan", "P88", "--json")
    assert as_json.exit_code == 0 and '"changed": true' in as_json.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--msisdn", ALICE, "--plan", "NOPE"], "no plan with code"),
        (["--msisdn", ALICE, "--plan", "P58"], "already has plan P58"),
        (["--msisdn", "13999999999", "--plan", "P88"], "not a subscriber"),
    ],
)
def test_cli_plan_order_errors(cli, plans, args, message):
    before = snapshot(plans)
    result = cli("plan", "order", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert snapshot(plans) == before


@pytest.fixture
def client(plans, db_url):
    rt = Runtime(Settings(database_url=db_url), fixed_clock=plans.clock)
    with KeyedClient(create_app(rt), issue_keys(rt, HOME)) as c:
        yield c


def test_api_plan_order(client, plans):
    made = client.post("/api/v1/plans/orders", json={"msisdn": BOB, "plan": "P88"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["plan"] == "P88" and body["changed"] is False
    assert body["effective_from"].startswith("2026-11-30T16:00:00")


@pytest.mark.parametrize(
    ("payload", "status", "kind"),
    [
        ({"msisdn": ALICE, "plan": "NOPE"}, 404, "unknown-plan"),
        ({"msisdn": ALICE, "plan": "P58"}, 409, "already-on-plan"),
        ({"msisdn": "13999999999", "plan": "P88"}, 404, "unknown-subscriber"),
        ({"msisdn": ALICE}, 422, "invalid-payload"),
    ],
)
def test_api_plan_order_problems(client, plans, payload, status, kind):
    before = snapshot(plans)
    response = client.post("/api/v1/plans/orders", json=payload)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(kind)
    assert snapshot(plans) == before


@pytest.mark.parametrize(("status", "told"), [("active", 1), ("suspended", 1), ("closed", 0)])
def test_effective_notice_reaches_suspended_numbers_not_closed_ones(plans, status, told):
    order(plans, "P58", msisdn=BOB)
    subscribers = tables.subscribers
    with plans.engine.begin() as conn:
        conn.execute(update(subscribers).where(subscribers.c.id == 2).values(status=status))
    at(plans, "2026-12-01T07:59:00")
    assert jobs(plans).plan_notices_waiting == told
    at(plans, "2026-12-01T08:00:00")
    assert jobs(plans).plan_notices_queued == told
    assert [m["msisdn"] for m in notices(plans, "plan_effective")] == [BOB] * told


def test_effective_notices_due_are_typed_rows(plans):
    ordered = order(plans, "P88", msisdn=CAROL)
    with plans.uow() as uow:
        [due] = uow.plans.effective_notices_due(DEC_1, DEC_1, [HOME], 0, 10)
    assert due == PlanNoticeCandidate(
        subscriber_plan_id=ordered.subscriber_plan_id,
        subscriber=Subscriber(3, CAROL, HOME, "en", "active"),
        plan=Plan(2, "P88", "88元套餐", 8800),
        effective_from=DEC_1,
    )
