"""The REST API against both stores: happy paths and RFC 9457 problem details."""

import pytest
from conftest import ALICE

from vasguard.store import tables


def test_health_and_lookups(client):
    assert client.get("/health").json() == {"status": "ok"}
    service = client.get("/api/v1/services/80100001").json()
    assert service["name"] == "天气预报" and service["price_fen"] == 200
    assert client.get("/api/v1/subscribers/+86 138 0000 0001").json()["msisdn"] == ALICE


def test_order_then_confirm_by_sms(client, world):
    made = client.post("/api/v1/orders", json={"msisdn": ALICE, "service": "80100001"})
    assert made.status_code == 201
    body = made.json()
    assert body["state"] == "pending_confirmation"
    reply = client.post("/api/v1/sms/mo", json={"from": ALICE, "text": "是", "id": "m-1"})
    assert reply.status_code == 200 and "成功订购" in reply.json()["replies"][0]
    again = client.post("/api/v1/sms/mo", json={"from": ALICE, "text": "是", "id": "m-1"})
    assert again.json() == {"mo_id": reply.json()["mo_id"], "duplicate": True, "replies": []}
    sub = world.rows(tables.subscriptions, tables.subscriptions.c.id == body["subscription_id"])
    assert sub[0]["state"] == "active"


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "kind"),
    [
        ("get", "/api/v1/services/NOPE", None, 404, "unknown-service"),
        ("get", "/api/v1/subscribers/12345", None, 422, "invalid-payload"),
        ("get", "/api/v1/subscribers/13999999999", None, 404, "unknown-subscriber"),
        ("post", "/api/v1/orders", {"msisdn": ALICE}, 422, "invalid-payload"),
        (
            "post",
            "/api/v1/orders",
            {"msisdn": ALICE, "service": "x", "extra": 1},
            422,
            "invalid-payload",
        ),
        (
            "post",
            "/api/v1/orders",
            {"msisdn": ALICE, "service": "90000002"},
            409,
            "included-in-plan",
        ),
        ("post", "/api/v1/orders", {"msisdn": ALICE, "service": "80100003"}, 409, "not-monthly"),
        (
            "post",
            "/api/v1/orders",
            {"msisdn": "abc", "service": "80100001"},
            422,
            "invalid-payload",
        ),
        ("post", "/api/v1/sms/mo", {"from": ALICE}, 422, "invalid-payload"),
        (
            "post",
            "/api/v1/sms/mo",
            {"from": "13999999999", "text": "0000"},
            404,
            "unknown-subscriber",
        ),
        ("get", "/api/v1/nowhere", None, 404, "http-error"),
    ],
)
def test_bad_requests_get_problem_details_and_change_nothing(
    client, world, method, path, payload, status, kind
):
    before = len(world.rows(tables.subscriptions)), len(world.rows(tables.events))
    response = getattr(client, method)(path, **({"json": payload} if payload is not None else {}))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["type"].endswith(kind)
    assert problem["title"] and problem["detail"]
    assert (len(world.rows(tables.subscriptions)), len(world.rows(tables.events))) == before


def test_malformed_json_is_a_problem_too(client):
    response = client.post(
        "/api/v1/orders", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_loopback_smsc_delivers_replies_and_they_can_be_read_back(client, rt, world):
    """Requests only queue their MTs; the engine's sender (here the loopback, driven by
    hand) sends them, and the API shows them delivered."""
    client.post("/api/v1/orders", json={"msisdn": ALICE, "service": "80100001"})
    client.post("/api/v1/sms/mo", json={"from": ALICE, "to": "10086", "text": "是"})
    listing = client.post("/api/v1/sms/mo", json={"from": ALICE, "text": "0000"}).json()
    assert "1.天气预报" in listing["replies"][0]
    queued = client.get(f"/api/v1/subscribers/{ALICE}/messages").json()
    assert {m["status"] for m in queued if m["direction"] == "mt"} == {"queued"}
    assert rt.deliver(world.clock) == 3
    messages = client.get(f"/api/v1/subscribers/{ALICE}/messages").json()
    assert [(m["direction"], m["kind"]) for m in messages] == [
        ("mt", "confirmation_request"),
        ("mo", "mo"),
        ("mt", "reply"),
        ("mo", "mo"),
        ("mt", "listing"),
    ]
    assert messages[-1]["peer"] == "10086977"
    assert {m["status"] for m in messages if m["direction"] == "mt"} == {"delivered"}


def test_a_batch_of_mos_answers_each_in_order(client, rt, world):
    client.post("/api/v1/orders", json={"msisdn": ALICE, "service": "80100001"})
    client.post("/api/v1/sms/mo", json={"from": ALICE, "text": "是"})
    messages = [
        {"from": ALICE, "text": "0000", "id": "g1"},
        {"from": "13999999999", "text": "0000", "id": "g2"},
        {"from": "12345", "text": "0000"},
        {"from": ALICE, "text": "1", "id": "g3"},
        {"from": ALICE, "text": "1", "id": "g3"},
    ]
    response = client.post("/api/v1/sms/mo-batch", json={"messages": messages})
    assert response.status_code == 200
    results = response.json()["results"]
    assert "1.天气预报" in results[0]["replies"][0]
    assert [r["problem"]["status"] if r["problem"] else None for r in results] == [
        None,
        404,
        422,
        None,
        None,
    ]
    assert "退订" in results[3]["replies"][0]
    assert results[4]["duplicate"] and results[4]["replies"] == []
    rt.deliver(world.clock)
    inbox = client.get(f"/api/v1/subscribers/{ALICE}/messages").json()
    assert {m["status"] for m in inbox if m["direction"] == "mt"} == {"delivered"}


def test_an_empty_batch_is_a_bad_payload(client):
    response = client.post("/api/v1/sms/mo-batch", json={"messages": []})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_an_mo_to_a_number_that_is_not_ours_is_refused_alone_and_changes_nothing(client, world):
    single = client.post("/api/v1/sms/mo", json={"from": ALICE, "to": "99999", "text": "0000"})
    assert single.status_code == 409  # understood and kept; the platform's numbers refuse it
    assert single.json()["type"].endswith("wrong-destination")
    batch = client.post(
        "/api/v1/sms/mo-batch",
        json={
            "messages": [
                {"from": ALICE, "to": "1008612", "text": "0000", "id": "w1"},
                {"from": ALICE, "to": "10086977", "text": "0000", "id": "w2"},
            ]
        },
    ).json()["results"]
    assert batch[0]["problem"]["type"].endswith("wrong-destination")
    assert batch[1]["problem"] is None and batch[1]["replies"]
    assert len(world.rows(tables.listings)) == 1
    stored = world.rows(tables.messages, tables.messages.c.direction == "mo")
    assert [m["service_number"] for m in stored] == ["99999", "1008612", "10086977"]


def test_receipts_from_an_http_gateway(client, world):
    posted = client.post(
        "/api/v1/sms/receipts",
        json={"receipts": [{"id": "smsc-9", "stat": "UNDELIV"}, {"id": "s-2", "stat": "ENROUTE"}]},
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == {"final": 1, "matched": 0}
    kept = world.rows(tables.unmatched_receipts)
    assert [(r["smsc_message_id"], r["stat"], r["delivered"]) for r in kept] == [
        ("smsc-9", "UNDELIV", False)
    ]
    bad = client.post("/api/v1/sms/receipts", json={"receipts": [{"id": "x", "stat": "LOST"}]})
    assert bad.status_code == 422 and world.rows(tables.unmatched_receipts) == kept
