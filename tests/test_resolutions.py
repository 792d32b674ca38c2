"""Complaint resolution and refunds on both stores: never larger, never twice, never implied."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from access_keys import KeyedClient, issue_keys
from conftest import ALICE, BOB, HOME
from typer.testing import CliRunner

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.cli.main import app
from vasguard.config import Settings
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.refunds import ResolutionRefusal, ResolutionRefused
from vasguard.services.intake import receive_mo
from vasguard.services.resolutions import refund_charge, resolve_complaint
from vasguard.store import tables

CARE = Cause(CauseKind.API, "care:test")


def subscribe(world, msisdn=ALICE, service="80100001"):
    return world.subscribe(service, msisdn)


def charge(world, subscription_id, period, amount_fen=200, subscriber_id=1):
    """A charge as a bill run would have made it (the bill run is not this module's subject)."""
    with world.engine.begin() as conn:
        return conn.execute(
            tables.charges.insert()
            .values(
                subscriber_id=subscriber_id,
                province=HOME,
                subscription_id=subscription_id,
                period=period,
                kind="first",
                amount_fen=amount_fen,
                created_at=world.clock.now(),
            )
            .returning(tables.charges.c.id)
        ).scalar_one()


def complaint(world, ticket="TS2611240000001", subscription_id=None, provider_id=None):
    """An open complaint as TS would have opened it, opened at the world clock's time."""
    with world.engine.begin() as conn:
        conn.execute(
            tables.complaints.insert().values(
                ticket=ticket,
                subscriber_id=1,
                province=HOME,
                subscription_id=subscription_id,
                provider_id=provider_id,
                text="没订过",
                status="open",
                opened_at=world.clock.now(),
            )
        )
    return ticket


def resolve(world, ticket, refund):
    return resolve_complaint(
        world.uow(), world.clock, world.deployment, ticket=ticket, refund=refund, cause=CARE
    )


def refund(world, charge_id, amount_fen=None):
    return refund_charge(
        world.uow(), world.clock, charge_id=charge_id, amount_fen=amount_fen, cause=CARE
    )


def snapshot(world):
    return [
        len(world.rows(t)) for t in (tables.refunds, tables.events, tables.complaints)
    ], world.rows(tables.complaints)


def notices(world):
    return world.rows(tables.messages, tables.messages.c.kind == "complaint_resolved")


def test_the_outcome_is_sent_inside_the_sending_window(world):
    sid = subscribe(world)
    ticket = complaint(world, subscription_id=sid)
    local = world.clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    world.clock.advance(timedelta(hours=(23 - local.hour) % 24, minutes=30 - local.minute))
    resolve(world, ticket, refund=False)
    [notice] = notices(world)
    opens = notice["send_after"].astimezone(ZoneInfo("Asia/Shanghai"))
    assert notice["created_at"] == world.clock.now() and (opens.hour, opens.minute) == (8, 0)
    assert notice["send_after"] - notice["created_at"] == timedelta(hours=8, minutes=30)


def test_resolve_without_refund(world):
    sid = subscribe(world)
    charge(world, sid, "2026-11")
    ticket = complaint(world, subscription_id=sid)
    world.clock.advance(timedelta(hours=2))
    done = resolve(world, ticket, refund=False)
    assert done.refunds == [] and done.resolution == "resolved without refund"
    [row] = world.rows(tables.complaints)
    assert (row["status"], row["resolved_at"]) == ("resolved", world.clock.now())
    assert world.rows(tables.refunds) == []
    [event] = world.rows(tables.events, tables.events.c.entity == "complaint")
    assert (event["kind"], event["cause_ref"]) == ("resolved", "care:test")
    [notice] = notices(world)
    assert notice["text"] == "【10086】您的投诉（编号TS2611240000001）已处理完毕。"
    assert notice["msisdn"] == ALICE and notice["subscription_id"] == sid


def test_resolve_with_refund_covers_the_complaints_month_and_later(world):
    sid = subscribe(world)
    other = subscribe(world, service="80100002")
    october = charge(world, sid, "2026-10")
    november = charge(world, sid, "2026-11")
    december = charge(world, sid, "2026-12", amount_fen=150)
    charge(world, other, "2026-11", amount_fen=50)
    ticket = complaint(world, subscription_id=sid)
    done = resolve(world, ticket, refund=True)
    assert [(r.charge_id, r.amount_fen) for r in done.refunds] == [(november, 200), (december, 150)]
    assert done.refunded_fen == 350 and done.resolution == "resolved with refund of 3.5元"
    refunds = world.rows(tables.refunds)
    assert {r["charge_id"] for r in refunds} == {november, december}
    assert all(r["complaint_id"] == done.complaint_id for r in refunds)
    assert october not in {r["charge_id"] for r in refunds}
    refunded = world.rows(tables.events, tables.events.c.kind == "refunded")
    assert sorted(e["entity_id"] for e in refunded) == [november, december]
    [notice] = notices(world)
    assert "编号TS2611240000001" in notice["text"] and "已为您退款3.5元" in notice["text"]


def test_a_charge_refunded_earlier_is_not_refunded_again_by_the_resolution(world):
    sid = subscribe(world)
    november = charge(world, sid, "2026-11")
    refund(world, november, 80)
    ticket = complaint(world, subscription_id=sid)
    assert resolve(world, ticket, refund=True).refunds == []
    assert [r["amount_fen"] for r in world.rows(tables.refunds)] == [80]


def test_a_complaint_against_a_partner_covers_only_that_partners_services(world):
    weather = subscribe(world)  # 星云信息 (provider 2)
    news = subscribe(world, service="90000001")  # 中国移动 (provider 1)
    partner_charge = charge(world, weather, "2026-11")
    charge(world, news, "2026-11", amount_fen=300)
    ticket = complaint(world, provider_id=2)
    done = resolve(world, ticket, refund=True)
    assert [r.charge_id for r in done.refunds] == [partner_charge]


@pytest.mark.parametrize(
    ("ticket", "refusal"),
    [("TS-NOPE", ResolutionRefusal.UNKNOWN_TICKET), (None, ResolutionRefusal.ALREADY_RESOLVED)],
)
def test_unknown_or_resolved_tickets_change_nothing(world, ticket, refusal):
    sid = subscribe(world)
    charge(world, sid, "2026-11")
    opened = complaint(world, subscription_id=sid)
    resolve(world, opened, refund=False)
    before = snapshot(world)
    with pytest.raises(ResolutionRefused) as refused:
        resolve(world, ticket or opened, refund=True)
    assert refused.value.refusal is refusal
    assert snapshot(world) == before


def test_refund_defaults_to_the_whole_charge_and_is_idempotent(world):
    sid = subscribe(world)
    charge_id = charge(world, sid, "2026-11")
    made = refund(world, charge_id)
    assert (made.amount_fen, made.created, made.complaint_id) == (200, True, None)
    before = snapshot(world)
    again = refund(world, charge_id, 50)
    assert (again.refund_id, again.amount_fen, again.created) == (made.refund_id, 200, False)
    assert snapshot(world) == before
    [row] = world.rows(tables.refunds)
    assert (row["cause_ref"], row["subscriber_id"]) == ("api:care:test", 1)


def test_a_partial_refund(world):
    charge_id = charge(world, subscribe(world), "2026-11")
    assert refund(world, charge_id, 150).amount_fen == 150


@pytest.mark.parametrize(
    ("amount", "charged", "refusal"),
    [
        (201, 200, ResolutionRefusal.AMOUNT_TOO_LARGE),
        (0, 200, ResolutionRefusal.AMOUNT_NOT_POSITIVE),
        (-5, 200, ResolutionRefusal.AMOUNT_NOT_POSITIVE),
        (None, 0, ResolutionRefusal.NOTHING_CHARGED),
    ],
)
def test_refunds_are_never_larger_than_the_charge(world, amount, charged, refusal):
    charge_id = charge(world, subscribe(world), "2026-11", amount_fen=charged)
    before = snapshot(world)
    with pytest.raises(ResolutionRefused) as refused:
        refund(world, charge_id, amount)
    assert refused.value.refusal is refusal
    assert snapshot(world) == before


def test_unknown_charge(world):
    with pytest.raises(ResolutionRefused) as refused:
        refund(world, 999)
    assert refused.value.refusal is ResolutionRefusal.UNKNOWN_CHARGE


def test_cancelling_after_a_charge_refunds_nothing(world):
    sid = subscribe(world)
    charge(world, sid, "2026-11")
    world.clock.advance(timedelta(days=1))
    receive_mo(
        world.uow(), world.clock, world.deployment, msisdn=ALICE, to="10086", text="TD80100001"
    )
    assert world.rows(tables.subscriptions)[0]["state"] == "cancelled"
    assert world.rows(tables.refunds) == []
    assert world.rows(tables.events, tables.events.c.kind == "refunded") == []


@pytest.fixture
def cli(world, db_url, monkeypatch):
    monkeypatch.setenv("VASGUARD_DATABASE_URL", db_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_cli_resolve_and_refund(cli, world):
    sid = subscribe(world)
    first = charge(world, sid, "2026-11")
    second = charge(world, subscribe(world, msisdn=BOB), "2026-11", subscriber_id=2)
    ticket = complaint(world, subscription_id=sid)
    resolved = cli("complaint", "resolve", "--ticket", ticket, "--refund", "--json")
    assert resolved.exit_code == 0, resolved.output
    assert '"refunded_fen": 200' in resolved.stdout
    assert world.rows(tables.refunds)[0]["charge_id"] == first
    made = cli("refund", "--charge", str(second), "--amount", "120", "--at", "2026-11-25T09:00:00")
    assert made.exit_code == 0 and "refunded: 120 fen" in made.stdout
    again = cli("refund", "--charge", str(second))
    assert "already refunded: 120 fen" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["complaint", "resolve", "--ticket", "NOPE"], "no complaint with ticket"),
        (["refund", "--charge", "1", "--amount", "999"], "is larger"),
        (["refund", "--charge", "77"], "no charge with id 77"),
    ],
)
def test_cli_errors(cli, world, args, message):
    charge(world, subscribe(world), "2026-11")
    result = cli(*args)
    assert result.exit_code == 2 and message in result.stderr
    assert world.rows(tables.refunds) == []


@pytest.fixture
def client(world, db_url):
    rt = Runtime(Settings(database_url=db_url), fixed_clock=world.clock)
    with KeyedClient(create_app(rt), issue_keys(rt, HOME)) as c:
        yield c


def test_api_resolution_and_refunds(client, world):
    sid = subscribe(world)
    charge_id = charge(world, sid, "2026-11")
    ticket = complaint(world, subscription_id=sid)
    done = client.post(f"/api/v1/complaints/{ticket}/resolution", json={"refund": True})
    assert done.status_code == 200, done.text
    assert done.json()["refunded_fen"] == 200
    again = client.post(f"/api/v1/complaints/{ticket}/resolution", json={"refund": True})
    assert again.status_code == 409 and again.json()["type"].endswith("already-resolved")
    existing = client.post("/api/v1/refunds", json={"charge_id": charge_id})
    assert existing.status_code == 201 and existing.json()["created"] is False
    too_much = client.post(
        "/api/v1/refunds", json={"charge_id": charge(world, sid, "2026-12"), "amount_fen": 999}
    )
    assert too_much.status_code == 422
    assert too_much.headers["content-type"].startswith("application/problem+json")
    assert too_much.json()["type"].endswith("amount-too-large")


def test_the_ticket_is_dated_on_the_local_day_of_the_complaint(world):
    subscribe(world)
    # 07:00 on 1 December in Shanghai is still 30 November in UTC.
    world.clock.at = world.clock.now().replace(month=11, day=30, hour=23)
    reply = world.sms("TS80100001 我没订过").replies[0]
    [row] = world.rows(tables.complaints)
    assert row["ticket"] == f"TS261201{row['id']:07d}" and row["ticket"] in reply
