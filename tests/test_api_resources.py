"""The catalogue, subscriber and subscription resources of the API, on both stores.

Each list: its pages (two at least, nothing repeated, a forged cursor a 422), its filters,
and what each key's scope lets it see; each change: what it did, the event naming the key,
and that a refused one changed nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from access_keys import as_key
from conftest import ALICE, BOB, CAROL, HOME
from sqlalchemy import func, select
from test_billing import NEWS, Desk

from vasguard.domain.events import Cause, CauseKind
from vasguard.services.orders import expire_orders
from vasguard.store import tables

S = tables.subscriptions.c
E = tables.events.c
M = tables.messages.c


def every_page(client, path, key="operator", limit=2):
    """All items of a list, page after page; the number of pages too."""
    items, pages, cursor = [], 0, None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        answer = client.get(path, params=params, headers=as_key(client, key))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


def codes(answer):
    assert answer.status_code == 200, answer.text
    return [s["code"] for s in answer.json()["items"]]


def snapshot(world):
    return (
        world.rows(tables.subscriptions),
        world.rows(tables.events),
        world.rows(tables.messages),
        world.rows(tables.services),
        world.rows(tables.refunds),
    )


# --- catalogue ---------------------------------------------------------------------------


def test_services_come_in_pages_without_repeats(client):
    items, pages = every_page(client, "/api/v1/services", limit=3)
    assert pages == 3
    assert [s["id"] for s in items] == sorted({s["id"] for s in items})
    assert len(items) == 8
    providers, pages = every_page(client, "/api/v1/providers", key="care", limit=2)
    assert pages == 2 and [p["code"] for p in providers] == ["10086", "801001", "802001"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "801"}, ["80100001", "80100002", "80100003", "80100004"]),
        ({"q": "天气"}, ["80100001"]),
        ({"q": "%"}, []),
        ({"exempt": "true"}, ["80200001"]),
        ({"provider": "802001"}, ["80200001", "80200002"]),
        ({"provider": "802001", "exempt": "false"}, ["80200002"]),
        ({"provider": "999999"}, []),
    ],
)
def test_services_are_searched_by_code_prefix_or_name_and_filtered(client, params, expected):
    assert codes(client.get("/api/v1/services", params=params)) == expected


@pytest.mark.parametrize("cursor", ["not-a-cursor", "MTIzYQ", "LTE"])
def test_a_cursor_the_api_did_not_give_is_a_422(client, cursor):
    for path in ("/api/v1/services", "/api/v1/subscribers", "/api/v1/subscriptions"):
        answer = client.get(path, params={"cursor": cursor})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["type"].endswith("invalid-input")


def test_a_partner_sees_only_its_own_providers_services(client):
    partner = as_key(client, "partner")
    own = codes(client.get("/api/v1/services", headers=partner))
    assert own == ["80100001", "80100002", "80100003", "80100004"]
    asked_other = client.get("/api/v1/services", params={"provider": "802001"}, headers=partner)
    assert codes(asked_other) == []
    assert client.get("/api/v1/services/80200001", headers=partner).status_code == 404
    other = client.get("/api/v1/services/80200001", headers=as_key(client, "partner-other"))
    assert other.status_code == 200 and other.json()["name"] == "校讯通"
    providers = client.get("/api/v1/providers", headers=partner).json()["items"]
    assert [p["code"] for p in providers] == ["801001"]
    everyone = client.get("/api/v1/providers").json()["items"]
    assert [p["code"] for p in everyone] == ["10086", "801001", "802001"]


def test_plans_list_what_they_include(client):
    plans = client.get("/api/v1/plans", headers=as_key(client, "care")).json()
    assert plans == {
        "items": [
            {
                "id": 1,
                "code": "P58",
                "name": "58元套餐",
                "monthly_fee_fen": 5800,
                "includes": ["彩铃"],
            }
        ],
        "next_cursor": None,
    }


def exemption_events(world):
    return world.rows(tables.events, E.entity == "service")


def test_the_operator_sets_and_ends_an_exemption_and_the_events_name_the_key(client, world):
    path = "/api/v1/services/80100001/exemption"
    made = client.put(path, json={"reason": "  网关不支持提醒  "})
    assert made.status_code == 200, made.text
    assert made.json()["reminder_exempt_reason"] == "网关不支持提醒"
    assert (
        client.get("/api/v1/services/80100001").json()["reminder_exempt_reason"] == "网关不支持提醒"
    )
    assert client.put(path, json={"reason": "网关不支持提醒"}).status_code == 200  # no change
    ended = client.delete(path)
    assert ended.status_code == 200 and ended.json()["reminder_exempt_reason"] is None
    events = exemption_events(world)
    assert [(e["kind"], e["entity_id"], e["cause_kind"], e["cause_ref"]) for e in events] == [
        ("exemption_set", 3, "api", "operator"),
        ("exemption_ended", 3, "api", "operator"),
    ]
    assert '"reason": "网关不支持提醒"' in events[0]["detail"]


@pytest.mark.parametrize(
    ("key", "body", "status"),
    [
        ("care", {"reason": "x"}, 403),
        ("partner", {"reason": "x"}, 403),
        ("operator", {"reason": "   "}, 422),
        ("operator", {"reason": ""}, 422),
        ("operator", {"reason": "a\x00b"}, 422),
        ("operator", {}, 422),
    ],
)
def test_a_refused_exemption_changes_nothing(client, world, key, body, status):
    before = snapshot(world)
    answer = client.put(
        "/api/v1/services/80100001/exemption", json=body, headers=as_key(client, key)
    )
    assert answer.status_code == status, answer.text
    assert snapshot(world) == before


def test_an_exemption_of_an_unknown_service_is_a_404(client, world):
    assert client.put("/api/v1/services/NOPE/exemption", json={"reason": "x"}).status_code == 404
    assert client.delete("/api/v1/services/NOPE/exemption").status_code == 404
    assert exemption_events(world) == []


# --- subscribers -------------------------------------------------------------------------


def test_subscribers_come_in_pages_filtered_by_province_and_status(client):
    items, pages = every_page(client, "/api/v1/subscribers", key="care")
    assert pages == 2 and [s["msisdn"] for s in items] == [ALICE, BOB, CAROL]
    home = client.get("/api/v1/subscribers", params={"province": HOME}).json()["items"]
    assert len(home) == 3
    elsewhere = "65" if HOME != "65" else "11"
    assert client.get("/api/v1/subscribers", params={"province": elsewhere}).json()["items"] == []
    assert client.get("/api/v1/subscribers", params={"status": "closed"}).json()["items"] == []
    assert client.get("/api/v1/subscribers", params={"province": "x"}).status_code == 422


def test_a_provincial_key_lists_and_reads_only_its_provinces_subscribers(client, world):
    world.subscribe("80100001", ALICE)
    away = as_key(client, "care-elsewhere")
    assert client.get("/api/v1/subscribers", headers=away).json()["items"] == []
    home = as_key(client, "care-home")
    assert len(client.get("/api/v1/subscribers", headers=home).json()["items"]) == 3
    for tail in ("", "/timeline", "/listing", "/subscriptions"):
        answer = client.get(f"/api/v1/subscribers/{ALICE}{tail}", headers=away)
        assert answer.status_code == 404, tail
        assert answer.json()["type"].endswith("unknown-subscriber")
        assert client.get(f"/api/v1/subscribers/{ALICE}{tail}", headers=home).status_code == 200
    assert client.get("/api/v1/subscriptions", headers=away).json()["items"] == []
    sid = world.rows(tables.subscriptions)[0]["id"]
    assert client.get(f"/api/v1/subscriptions/{sid}", headers=away).status_code == 404


def history(world, client):
    """ALICE: an order confirmed by SMS, a charge, its refund and a complaint, a minute apart."""
    sid = world.subscribe("80100001", ALICE)
    world.clock.advance(timedelta(minutes=1))
    with world.engine.begin() as conn:
        charge_id = conn.execute(
            tables.charges.insert()
            .values(
                subscriber_id=1,
                province=HOME,
                subscription_id=sid,
                period="2026-11",
                kind="first",
                amount_fen=200,
                created_at=world.clock.now(),
            )
            .returning(tables.charges.c.id)
        ).scalar_one()
    world.clock.advance(timedelta(minutes=1))
    refunded = client.post("/api/v1/refunds", json={"charge_id": charge_id})
    assert refunded.status_code == 201, refunded.text
    world.clock.advance(timedelta(minutes=1))
    world.sms("TS80100001 没有订购过")
    return sid, charge_id


def test_the_timeline_holds_every_kind_newest_first_with_causes(client, world):
    sid, charge_id = history(world, client)
    answer = client.get(f"/api/v1/subscribers/{ALICE}/timeline", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    entries = answer.json()["items"]
    assert answer.json()["next_cursor"] is None
    keys = [(e["at"], e["kind"], e["id"]) for e in entries]
    assert keys == sorted(keys, reverse=True)
    assert {e["kind"] for e in entries} == {"message", "event", "charge", "refund", "complaint"}
    events = {e["detail"]["event"]: e["detail"] for e in entries if e["kind"] == "event"}
    assert (events["ordered"]["cause_kind"], events["ordered"]["cause_ref"]) == ("api", "test")
    assert events["confirmed"]["cause_kind"] == "mo"
    assert (events["refunded"]["cause_kind"], events["refunded"]["cause_ref"]) == (
        "api",
        "operator",
    )
    messages = [e["detail"] for e in entries if e["kind"] == "message"]
    assert {m["direction"] for m in messages} == {"mo", "mt"}
    request = next(m for m in messages if m["message_kind"] == "confirmation_request")
    assert request["status"] == "queued" and request["subscription_id"] == sid
    charge = next(e for e in entries if e["kind"] == "charge")
    assert (charge["id"], charge["detail"]["amount_fen"]) == (charge_id, 200)
    newest = {e["kind"] for e in entries if e["at"] == entries[0]["at"]}
    assert "complaint" in newest and "refund" not in newest  # the TS came a minute later
    assert client.get(f"/api/v1/subscribers/{BOB}/timeline").json()["items"] == []


def test_the_timeline_pages_through_entries_of_one_instant_without_repeats(client, world):
    history(world, client)
    everything = client.get(f"/api/v1/subscribers/{ALICE}/timeline", params={"limit": 200})
    items, pages = every_page(client, f"/api/v1/subscribers/{ALICE}/timeline", limit=2)
    assert pages > 3
    assert items == everything.json()["items"]


@pytest.mark.parametrize("cursor", ["MTIz", "eC5ldmVudC4x", "MS5ub3BlLjE", "MS5ldmVudC4"])
def test_a_timeline_cursor_the_api_did_not_give_is_a_422(client, cursor):
    answer = client.get(f"/api/v1/subscribers/{ALICE}/timeline", params={"cursor": cursor})
    assert answer.status_code == 422 and answer.json()["type"].endswith("invalid-input")


def test_the_listing_is_what_0000_would_list_and_sends_nothing(client, world):
    world.subscribe("80100001", ALICE)
    world.clock.advance(timedelta(minutes=1))
    world.subscribe("90000001", ALICE)
    world.order("80100002", ALICE)  # pending: not listed
    before = (world.rows(tables.messages), world.rows(tables.listings))
    answer = client.get(f"/api/v1/subscribers/{ALICE}/listing", headers=as_key(client, "care"))
    assert answer.status_code == 200, answer.text
    assert [(i["number"], i["service"], i["price_fen"]) for i in answer.json()] == [
        (1, "80100001", 200),
        (2, "90000001", 300),
    ]
    assert (world.rows(tables.messages), world.rows(tables.listings)) == before


# --- subscriptions -----------------------------------------------------------------------


def holdings(world):
    """ALICE holds a partner service and a pending one, BOB the other partner's service."""
    alice = world.subscribe("80100001", ALICE)
    pending = world.order("80100002", ALICE).subscription_id
    bob = world.subscribe("80200002", BOB)
    return alice, pending, bob


def ids(answer):
    assert answer.status_code == 200, answer.text
    return [s["id"] for s in answer.json()["items"]]


def test_subscriptions_come_in_pages_and_filter_by_service_state_and_number(client, world):
    alice, pending, bob = holdings(world)
    items, pages = every_page(client, "/api/v1/subscriptions", key="care", limit=2)
    assert pages == 2 and [s["id"] for s in items] == [alice, pending, bob]
    get = client.get
    assert ids(get("/api/v1/subscriptions", params={"service": "80100001"})) == [alice]
    assert ids(get("/api/v1/subscriptions", params={"state": "active"})) == [alice, bob]
    assert ids(get("/api/v1/subscriptions", params={"msisdn": BOB})) == [bob]
    both = {"msisdn": ALICE, "state": "pending_confirmation"}
    assert ids(get("/api/v1/subscriptions", params=both)) == [pending]
    assert ids(get("/api/v1/subscriptions", params={"service": "NOPE"})) == []
    assert ids(get("/api/v1/subscriptions", params={"msisdn": CAROL})) == []
    assert get("/api/v1/subscriptions", params={"state": "gone"}).status_code == 422
    assert ids(get(f"/api/v1/subscribers/{ALICE}/subscriptions")) == [alice, pending]


def test_a_partner_sees_only_its_own_services_subscriptions(client, world):
    alice, pending, bob = holdings(world)
    partner, other = as_key(client, "partner"), as_key(client, "partner-other")
    assert ids(client.get("/api/v1/subscriptions", headers=partner)) == [alice, pending]
    assert ids(client.get("/api/v1/subscriptions", headers=other)) == [bob]
    by_number = client.get("/api/v1/subscriptions", params={"msisdn": ALICE}, headers=other)
    assert ids(by_number) == []
    assert client.get(f"/api/v1/subscriptions/{alice}", headers=other).status_code == 404
    mine = client.get(f"/api/v1/subscriptions/{bob}", headers=other)
    assert mine.status_code == 200 and mine.json()["service"] == "80200002"
    assert client.get(f"/api/v1/subscriptions/{alice}", headers=partner).status_code == 200
    unknown = client.get("/api/v1/subscriptions/999999")
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("unknown-subscription")


def test_a_subscription_reads_with_its_tmf_states(client, world):
    alice, pending, _ = holdings(world)
    declined = world.order("80200002", ALICE).subscription_id
    world.sms(f"否{world.rows(tables.subscriptions, S.id == declined)[0]['confirmation_code']}")

    def tmf(sid):
        body = client.get(f"/api/v1/subscriptions/{sid}").json()
        return body["state"], body["tmf_order_state"], body["tmf_product_status"]

    assert tmf(pending) == ("pending_confirmation", "pending", "created")
    assert tmf(alice) == ("active", "completed", "active")
    assert tmf(declined) == ("cancelled", "cancelled", "terminated")
    cancelled = client.post(
        f"/api/v1/subscribers/{ALICE}/cancellations", json={"subscription_ids": [alice]}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert tmf(alice) == ("cancelled", "completed", "terminated")
    world.clock.advance(timedelta(hours=25))
    assert expire_orders(world.uow(), world.clock, cause=Cause(CauseKind.JOB, "test")) == 1
    assert tmf(pending) == ("expired", "failed", "terminated")


def code_of(world, sid):
    return world.rows(tables.subscriptions, S.id == sid)[0]["confirmation_code"]


def test_care_confirms_with_the_code_the_customer_reads_out(client, world):
    sid = world.order("80100001", ALICE).subscription_id
    answer = client.post(
        f"/api/v1/subscriptions/{sid}/confirmation",
        json={"code": code_of(world, sid)},
        headers=as_key(client, "care-home"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subscription"]["state"] == "active"
    assert body["subscription"]["tmf_order_state"] == "completed"
    assert "成功订购" in body["reply"]
    row = world.rows(tables.subscriptions, S.id == sid)[0]
    consent = world.rows(tables.messages, M.id == row["confirmation_mo_id"])[0]
    assert (consent["direction"], consent["kind"], consent["subscriber_id"]) == (
        "mo",
        "care_consent",
        1,
    )
    assert consent["text"] == f"是{code_of(world, sid)}"
    confirmed = world.rows(tables.events, E.entity_id == sid, E.kind == "confirmed")
    assert [(e["cause_kind"], e["cause_ref"]) for e in confirmed] == [("api", "care-home")]
    reply = world.rows(tables.messages, M.in_reply_to == consent["id"])
    assert [r["text"] for r in reply] == [body["reply"]]
    again = client.post(
        f"/api/v1/subscriptions/{sid}/confirmation", json={"code": code_of(world, sid)}
    )
    assert again.status_code == 409 and again.json()["type"].endswith("not-pending")


def test_a_retried_cancellation_with_its_idempotency_key_gets_the_first_answer(client, world):
    sid = world.subscribe("80100001", ALICE)
    headers = as_key(client, "care") | {"Idempotency-Key": "cancel-1"}
    path = f"/api/v1/subscribers/{ALICE}/cancellations"
    first = client.post(path, json={"subscription_ids": [sid]}, headers=headers)
    assert first.status_code == 200 and first.json()["cancelled"][0]["subscription_id"] == sid
    retry = client.post(path, json={"subscription_ids": [sid]}, headers=headers)
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert len(world.rows(tables.events, E.kind == "cancelled")) == 1


def test_a_care_confirmation_is_evidence_the_bill_run_charges_on_and_the_audit_accepts(
    client, world
):
    desk = Desk(world)
    sid, code = desk.order(BOB, NEWS)
    confirmed = client.post(
        f"/api/v1/subscriptions/{sid}/confirmation",
        json={"code": code},
        headers=as_key(client, "care"),
    )
    assert confirmed.status_code == 200, confirmed.text
    desk.remind()
    desk.bill("2026-11", "2026-11-25T10:00:00")
    assert desk.charged(sid) == {"2026-11": 300}
    [charge] = desk.charges(tables.charges.c.subscription_id == sid)
    assert charge["confirmation_mo_id"] == confirmed.json()["consent_message_id"]
    assert desk.audit("2026-11").passed


def wrong(code):
    return f"{(int(code) + 1) % 10000:04d}"


@pytest.mark.parametrize(
    ("key", "code", "status", "kind"),
    [
        ("care", wrong, 409, "no-such-code"),
        ("care", lambda c: "12ab", 422, "invalid-payload"),
        ("care-elsewhere", lambda c: c, 404, "unknown-subscription"),
        ("partner", lambda c: c, 403, "not-allowed"),
    ],
)
def test_a_refused_confirmation_changes_nothing(client, world, key, code, status, kind):
    sid = world.order("80100001", ALICE).subscription_id
    before = snapshot(world)
    answer = client.post(
        f"/api/v1/subscriptions/{sid}/confirmation",
        json={"code": code(code_of(world, sid))},
        headers=as_key(client, key),
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["type"].endswith(kind)
    assert snapshot(world) == before


def test_a_confirmation_after_the_window_closed_is_refused(client, world):
    sid = world.order("80100001", ALICE).subscription_id
    world.clock.advance(timedelta(hours=25))
    before = snapshot(world)
    answer = client.post(
        f"/api/v1/subscriptions/{sid}/confirmation", json={"code": code_of(world, sid)}
    )
    assert answer.status_code == 409 and answer.json()["type"].endswith("expired")
    assert snapshot(world) == before


def alice_holds_four(world):
    return [world.subscribe(code, ALICE) for code in ("90000001", "80100001", "80100002")] + [
        world.order("80200002", ALICE).subscription_id
    ]


def cancel(client, body, key="care", msisdn=ALICE):
    return client.post(
        f"/api/v1/subscribers/{msisdn}/cancellations", json=body, headers=as_key(client, key)
    )


def test_care_cancels_one_then_several_then_all(client, world):
    news, weather, health, pending = alice_holds_four(world)
    one = cancel(client, {"subscription_ids": [news]})
    assert one.status_code == 200, one.text
    assert one.json()["cancelled"] == [
        {"subscription_id": news, "service": "90000001", "charged": False, "voided_charge_ids": []}
    ]
    several = cancel(client, {"subscription_ids": [weather, news, health]}).json()
    assert [c["subscription_id"] for c in several["cancelled"]] == [weather, health]
    assert several["already_ended"] == [
        {"subscription_id": news, "service": "90000001", "state": "cancelled"}
    ]
    everything = cancel(client, {"all": True}).json()
    assert [c["subscription_id"] for c in everything["cancelled"]] == [pending]
    rows = world.rows(tables.subscriptions, S.subscriber_id == 1)
    assert {(r["state"], r["end_cause"]) for r in rows} == {("cancelled", "api")}
    events = world.rows(tables.events, E.kind == "cancelled")
    assert sorted(e["entity_id"] for e in events) == sorted([news, weather, health, pending])
    assert {(e["cause_kind"], e["cause_ref"]) for e in events} == {("api", "care")}
    notices = world.rows(tables.messages, M.kind == "cancelled")
    assert [n["id"] for n in notices] == [
        one.json()["notice_message_id"],
        several["notice_message_id"],
        everything["notice_message_id"],
    ]
    assert "天气预报" in notices[1]["text"] and "健康百科" in notices[1]["text"]
    assert cancel(client, {"all": True}).json() == {
        "cancelled": [],
        "already_ended": [],
        "notice_message_id": None,
    }


@pytest.mark.parametrize(
    ("key", "body", "status", "kind"),
    [
        ("care", "bob's", 404, "unknown-subscription"),
        ("care", {"subscription_ids": [999999]}, 404, "unknown-subscription"),
        ("care", {"subscription_ids": []}, 422, "invalid-payload"),
        ("care", {"subscription_ids": [1], "all": True}, 422, "invalid-payload"),
        ("care", {}, 422, "invalid-payload"),
        ("care", {"all": False}, 422, "invalid-payload"),
        ("care-elsewhere", {"all": True}, 404, "unknown-subscriber"),
        ("partner", {"all": True}, 403, "not-allowed"),
        ("partner-other", {"all": True}, 403, "not-allowed"),
    ],
)
def test_a_refused_cancellation_changes_nothing(client, world, key, body, status, kind):
    held = alice_holds_four(world)
    bob = world.subscribe("80200002", BOB)
    if body == "bob's":
        body = {"subscription_ids": [held[0], bob]}  # one of them is not ALICE's: none goes
    before = snapshot(world)
    answer = cancel(client, body, key=key)
    assert answer.status_code == status, answer.text
    assert answer.json()["type"].endswith(kind)
    assert snapshot(world) == before


def test_an_api_cancellation_voids_a_charge_for_a_period_not_begun(client, world):
    sid = world.subscribe("80100001", ALICE)
    with world.engine.begin() as conn:
        conn.execute(
            tables.charges.insert().values(
                subscriber_id=1,
                province=HOME,
                subscription_id=sid,
                period="2026-12",
                kind="renewal",
                amount_fen=200,
                created_at=world.clock.now(),
            )
        )
    answer = cancel(client, {"subscription_ids": [sid]})
    assert answer.status_code == 200, answer.text
    [done] = answer.json()["cancelled"]
    assert done["charged"] is True and len(done["voided_charge_ids"]) == 1
    with world.engine.connect() as conn:
        refunds = conn.execute(select(func.count()).select_from(tables.refunds)).scalar_one()
    assert refunds == 1
