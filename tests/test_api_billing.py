"""Charges with their evidence, bill runs, refunds, complaints and reports over the API,
on both stores; charges are made by a bill run started through the API."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from access_keys import as_key
from conftest import ALICE, BOB, CAROL, HOME, T0

from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.store import tables
from vasguard.store.locks import holding

WEATHER = "80100001"  # 星云信息 (801001, the "partner" key's provider), 200 fen
NEWS = "90000001"  # the operator's own, 300 fen


def remind(world):
    """The reminder job, the outbox and the handsets' delivery receipts."""
    from vasguard.services.outbox import flush, record_receipt
    from vasguard.services.reminders import run_reminders

    smsc = LoopbackSmsc()
    run_reminders(world.uow(), world.clock, world.deployment)
    flush(world.uow(), world.clock, smsc)
    for receipt in smsc.receipts(world.clock.now(), delivered=True):
        record_receipt(world.uow(), receipt)


def wait_for_bill_runs():
    """Bill runs started over the API run in threads named after them: join them all."""
    for thread in threading.enumerate():
        if thread.name.startswith("bill-run-"):
            thread.join()


def bill(client, period="2026-11"):
    started = client.post("/api/v1/bill-runs", json={"period": period})
    assert started.status_code == 202, started.text
    wait_for_bill_runs()
    return started.json()["id"]


def charged_world(world, client):
    """BOB subscribes to WEATHER and is reminded; a day later the run charges him (and
    ALICE's plan fee, in force since January)."""
    placed = world.order(WEATHER, BOB)
    world.sms(f"是{placed.code}", BOB)
    remind(world)
    world.clock.advance(timedelta(hours=25))
    run_id = bill(client)
    [charge] = world.rows(
        tables.charges, tables.charges.c.subscription_id == placed.subscription_id
    )
    return placed, charge["id"], run_id


def test_a_charge_shows_every_link_of_its_evidence_chain(world, client):
    placed, charge_id, run_id = charged_world(world, client)
    body = client.get(f"/api/v1/charges/{charge_id}", headers=as_key(client, "care")).json()
    assert (body["msisdn"], body["kind"], body["amount_fen"], body["status"]) == (
        BOB,
        "first",
        200,
        "billed",
    )
    evidence = body["evidence"]
    order = evidence["order"]
    assert (order["subscription_id"], order["service"], order["channel"]) == (
        placed.subscription_id,
        WEATHER,
        "partner",
    )
    assert order["ordered_at"].startswith(T0.strftime("%Y-%m-%dT%H:%M"))
    request, mo, reminder = (
        evidence["confirmation_request"],
        evidence["confirmation"],
        evidence["reminder"],
    )
    assert (request["direction"], request["kind"]) == ("mt", "confirmation_request")
    assert placed.code in request["text"]
    assert (mo["direction"], mo["text"]) == ("mo", f"是{placed.code}")
    assert (reminder["kind"], reminder["receipt_status"]) == ("reminder", "delivered")
    assert evidence["reminder_status_at_charge"] == "delivered"
    assert evidence["bill_run"]["id"] == run_id and evidence["bill_run"]["status"] == "finished"
    assert evidence["refund"] is None and evidence["holds"] == []
    assert evidence["plan_order"] is None

    refund = client.post("/api/v1/refunds", json={"charge_id": charge_id, "amount_fen": 150})
    assert refund.status_code == 201
    after = client.get(f"/api/v1/charges/{charge_id}").json()
    assert after["status"] == "refunded"
    assert (after["evidence"]["refund"]["amount_fen"], after["evidence"]["refund"]["cause"]) == (
        150,
        "api:operator",
    )


def test_a_charge_held_by_an_open_complaint_is_on_hold_until_refunded(world, client):
    _, charge_id, _ = charged_world(world, client)
    world.clock.advance(timedelta(hours=1))
    world.sms(f"TS{WEATHER} 没订过", BOB)
    [complaint] = world.rows(tables.complaints)
    held = client.get(f"/api/v1/charges/{charge_id}").json()
    assert held["status"] == "onHold"
    assert [h["ticket"] for h in held["evidence"]["holds"]] == [complaint["ticket"]]
    listed = client.get("/api/v1/charges", params={"msisdn": BOB}).json()["items"]
    assert [(c["id"], c["status"]) for c in listed] == [(charge_id, "onHold")]
    client.post(f"/api/v1/complaints/{complaint['ticket']}/resolution", json={"refund": True})
    assert client.get(f"/api/v1/charges/{charge_id}").json()["status"] == "refunded"


def test_charges_are_listed_page_by_page_filtered_and_scoped(world, client):
    for msisdn, service in ((BOB, WEATHER), (CAROL, NEWS)):
        placed = world.order(service, msisdn)
        world.sms(f"是{placed.code}", msisdn)
    remind(world)
    world.clock.advance(timedelta(hours=25))
    bill(client)
    every = [c["id"] for c in world.rows(tables.charges)]
    assert len(every) == 3  # BOB's, CAROL's first charges and ALICE's plan fee

    first = client.get("/api/v1/charges", params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == every[:2] and first["next_cursor"]
    rest = client.get("/api/v1/charges", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [c["id"] for c in rest.json()["items"]] == every[2:]
    assert rest.json()["next_cursor"] is None

    def listed(key="operator", **params):
        answer = client.get("/api/v1/charges", params=params, headers=as_key(client, key))
        assert answer.status_code == 200, answer.text
        return [(c["msisdn"], c["kind"], c["service"], c["plan"]) for c in answer.json()["items"]]

    assert listed(kind="plan") == [(ALICE, "plan", None, "P58")]
    assert listed(msisdn=CAROL, period="2026-11") == [(CAROL, "first", NEWS, None)]
    assert listed(period="2026-10") == []
    assert len(listed("care-home")) == 3
    assert listed("care-elsewhere") == []
    unseen = client.get(
        "/api/v1/charges", params={"msisdn": BOB}, headers=as_key(client, "care-elsewhere")
    )
    assert unseen.status_code == 404
    one = client.get(f"/api/v1/charges/{every[0]}", headers=as_key(client, "care-elsewhere"))
    assert one.status_code == 404 and one.json()["type"].endswith("unknown-charge")
    assert client.get("/api/v1/charges", params={"period": "2026-13"}).status_code == 422
    assert client.get("/api/v1/charges", params={"cursor": "nope"}).status_code == 422
    partner = client.get("/api/v1/charges", headers=as_key(client, "partner"))
    assert partner.status_code == 403


def test_a_bill_run_is_started_by_the_operator_and_reports_its_summary(world, client):
    placed = world.order(WEATHER, BOB)
    world.sms(f"是{placed.code}", BOB)
    world.order(NEWS, CAROL)  # never confirmed
    remind(world)
    world.clock.advance(timedelta(hours=25))
    refused = client.post(
        "/api/v1/bill-runs", json={"period": "2026-11"}, headers=as_key(client, "care")
    )
    assert refused.status_code == 403
    started = client.post("/api/v1/bill-runs", json={"period": "2026-11"})
    assert started.status_code == 202
    assert started.headers["location"] == f"/api/v1/bill-runs/{started.json()['id']}"
    wait_for_bill_runs()
    run = client.get(started.headers["location"], headers=as_key(client, "care")).json()
    assert (run["period"], run["status"], run["charged_count"], run["charged_fen"]) == (
        "2026-11",
        "finished",
        2,
        6000,
    )
    assert run["charged"] == {"first": {"count": 1, "fen": 200}, "plan": {"count": 1, "fen": 5800}}
    assert run["skipped"] == {"not_confirmed": 1}
    assert run["cursor"] == 3
    listed = client.get("/api/v1/bill-runs", params={"period": "2026-11"}).json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert client.get("/api/v1/bill-runs", params={"period": "2026-10"}).json()["items"] == []
    events = world.rows(tables.events, tables.events.c.entity == "bill_run")
    assert {(e["kind"], e["cause_ref"]) for e in events} == {
        ("bill_run_started", "operator"),
        ("bill_run_finished", "operator"),
    }
    assert client.get("/api/v1/bill-runs/999").status_code == 404


def test_a_retried_start_with_its_idempotency_key_is_answered_with_the_first_run(world, client):
    headers = {"Idempotency-Key": "close-2026-11"}
    first = client.post("/api/v1/bill-runs", json={"period": "2026-11"}, headers=headers)
    wait_for_bill_runs()
    again = client.post("/api/v1/bill-runs", json={"period": "2026-11"}, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(world.rows(tables.bill_runs)) == 1


def test_a_bill_run_of_a_period_not_begun_or_being_billed_is_refused(world, client, engine):
    not_begun = client.post("/api/v1/bill-runs", json={"period": "2026-12"})
    assert not_begun.status_code == 409 and not_begun.json()["type"].endswith("not-billable-yet")
    with holding(engine, "bill-run-2026-11") as taken:
        assert taken
        busy = client.post("/api/v1/bill-runs", json={"period": "2026-11"})
    assert busy.status_code == 409 and busy.json()["type"].endswith("period-being-billed")
    bad = client.post("/api/v1/bill-runs", json={"period": "11/2026"})
    assert bad.status_code == 422
    assert world.rows(tables.bill_runs) == [] and world.rows(tables.charges) == []


def test_refunds_are_listed_by_subscriber_and_scoped(world, client):
    _, charge_id, _ = charged_world(world, client)
    client.post("/api/v1/refunds", json={"charge_id": charge_id})
    [refund] = client.get("/api/v1/refunds", params={"msisdn": BOB}).json()["items"]
    assert (refund["charge_id"], refund["amount_fen"], refund["period"]) == (
        charge_id,
        200,
        "2026-11",
    )
    assert client.get("/api/v1/refunds", params={"msisdn": ALICE}).json()["items"] == []
    elsewhere = client.get("/api/v1/refunds", headers=as_key(client, "care-elsewhere"))
    assert elsewhere.json()["items"] == []


def test_complaints_are_listed_within_each_keys_scope(world, client):
    world.subscribe(WEATHER, BOB)
    world.subscribe(NEWS, CAROL)
    world.sms(f"TS{WEATHER} 没订过", BOB)
    world.sms(f"TS{NEWS} 乱扣费", CAROL)
    weather, news = (r["ticket"] for r in world.rows(tables.complaints))

    def tickets(key, **params):
        answer = client.get("/api/v1/complaints", params=params, headers=as_key(client, key))
        assert answer.status_code == 200, answer.text
        return [c["ticket"] for c in answer.json()["items"]]

    assert tickets("operator") == [weather, news]
    assert tickets("care-home", msisdn=CAROL) == [news]
    assert tickets("care", status="resolved") == []
    assert tickets("partner") == [weather]
    assert tickets("partner-other") == []
    assert tickets("care-elsewhere") == []
    page = client.get("/api/v1/complaints", params={"limit": 1}).json()
    assert [c["ticket"] for c in page["items"]] == [weather]
    more = client.get("/api/v1/complaints", params={"limit": 1, "cursor": page["next_cursor"]})
    assert [c["ticket"] for c in more.json()["items"]] == [news]

    mine = client.get(f"/api/v1/complaints/{weather}", headers=as_key(client, "partner")).json()
    assert (mine["service"], mine["provider"], mine["channel"], mine["text"]) == (
        WEATHER,
        "801001",
        "sms",
        None,
    )
    for key, ticket in (("care-elsewhere", weather), ("partner", news)):
        hidden = client.get(f"/api/v1/complaints/{ticket}", headers=as_key(client, key))
        assert hidden.status_code == 404 and hidden.json()["type"].endswith("unknown-ticket")
    care = client.get(f"/api/v1/complaints/{weather}", headers=as_key(client, "care")).json()
    assert care["text"] == "没订过" and care["status"] == "open"


def test_care_opens_a_complaint_that_holds_charges_like_a_customers(world, client):
    placed = world.order(WEATHER, BOB)
    world.sms(f"是{placed.code}", BOB)
    remind(world)
    opened = client.post(
        "/api/v1/complaints",
        json={"msisdn": BOB, "text": "客户来电：没订过"},
        headers=as_key(client, "care-home"),
    )
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["subscription_id"], body["channel"], body["status"]) == (
        placed.subscription_id,
        "care",
        "open",
    )
    assert opened.headers["location"] == f"/api/v1/complaints/{body['ticket']}"
    [event] = world.rows(tables.events, tables.events.c.entity == "complaint")
    assert json.loads(event["detail"])["channel"] == "care"
    assert (event["kind"], event["cause_kind"], event["cause_ref"]) == (
        "opened",
        "api",
        "care-home",
    )

    world.clock.advance(timedelta(hours=25))
    run = client.get(f"/api/v1/bill-runs/{bill(client)}").json()
    assert run["skipped"]["held_by_complaint"] == 1
    assert world.rows(tables.charges, tables.charges.c.subscriber_id == 2) == []


def test_a_retried_complaint_with_its_idempotency_key_is_opened_once(world, client):
    world.subscribe(WEATHER, BOB)
    remind(world)
    headers = {**as_key(client, "care"), "Idempotency-Key": "call-1"}
    payload = {"msisdn": BOB, "text": "客户来电"}
    first = client.post("/api/v1/complaints", json=payload, headers=headers)
    again = client.post("/api/v1/complaints", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(world.rows(tables.complaints)) == 1


@pytest.mark.parametrize(
    ("key", "payload", "status", "kind"),
    [
        ("care", {"msisdn": BOB, "subscription_id": 99, "text": "x"}, 404, "unknown-subscription"),
        ("care", {"msisdn": CAROL, "text": "x"}, 409, "subscription-needed"),
        ("care-elsewhere", {"msisdn": BOB, "text": "x"}, 404, "unknown-subscriber"),
        ("care", {"msisdn": BOB, "text": ""}, 422, "invalid-payload"),
        ("care", {"msisdn": BOB, "text": "a\x00b"}, 422, "invalid-payload"),
        ("partner", {"msisdn": BOB, "text": "x"}, 403, "not-allowed"),
    ],
)
def test_a_complaint_care_cannot_open_changes_nothing(world, client, key, payload, status, kind):
    world.subscribe(WEATHER, BOB)
    remind(world)
    before = (world.rows(tables.complaints), len(world.rows(tables.events)))
    refused = client.post("/api/v1/complaints", json=payload, headers=as_key(client, key))
    assert refused.status_code == status and refused.json()["type"].endswith(kind)
    assert (world.rows(tables.complaints), len(world.rows(tables.events))) == before


def test_reports_count_a_period_per_province_and_per_partner(world, client):
    bob = world.order(WEATHER, BOB)
    world.sms(f"是{bob.code}", BOB)
    alice = world.order(WEATHER, ALICE)
    world.sms(f"是{alice.code}", ALICE)
    world.order(NEWS, CAROL)
    world.sms("否", CAROL)
    world.clock.advance(timedelta(minutes=5))
    world.sms(f"TD{WEATHER}", ALICE)
    remind(world)
    world.clock.advance(timedelta(hours=25))
    bill(client)  # BOB's first month and ALICE's plan fee
    world.sms(f"TS{WEATHER} 不想要了", BOB)
    [bob_charge] = world.rows(tables.charges, tables.charges.c.subscriber_id == 2)
    client.post("/api/v1/refunds", json={"charge_id": bob_charge["id"], "amount_fen": 120})

    provinces = client.get("/api/v1/reports/provinces", params={"period": "2026-11"}).json()
    [home] = provinces["lines"]
    assert home == {
        "code": HOME,
        "name": home["name"],
        "orders": 3,
        "confirmations": 2,
        "cancellations": {"declined": 1, "td_code": 1},
        "complaints": 1,
        "charges": 2,
        "charged_fen": 200 + 5800,
        "refunds": 1,
        "refunded_fen": 120,
    }
    partners = client.get("/api/v1/reports/partners", params={"period": "2026-11"}).json()
    lines = {line["code"]: line for line in partners["lines"]}
    assert sorted(lines) == ["10086", "801001"]
    assert {k: lines["801001"][k] for k in ("orders", "confirmations", "cancellations")} == {
        "orders": 2,
        "confirmations": 2,
        "cancellations": {"td_code": 1},
    }
    assert [lines["801001"][k] for k in ("complaints", "charges", "charged_fen")] == [1, 1, 200]
    assert [lines["801001"][k] for k in ("refunds", "refunded_fen")] == [1, 120]
    assert {k: lines["10086"][k] for k in ("orders", "confirmations", "charges")} == {
        "orders": 1,
        "confirmations": 0,
        "charges": 0,
    }
    assert lines["10086"]["cancellations"] == {"declined": 1}
    october = client.get("/api/v1/reports/provinces", params={"period": "2026-10"}).json()
    assert october == {"period": "2026-10", "lines": []}
    for key in ("care", "partner"):
        denied = client.get(
            "/api/v1/reports/partners", params={"period": "2026-11"}, headers=as_key(client, key)
        )
        assert denied.status_code == 403
    assert client.get("/api/v1/reports/partners", params={"period": "26-11"}).status_code == 422
