"""Input hardening on both stores: what the store cannot keep is a 422, bodies are
bounded, keys are rate limited, and an Idempotency-Key makes a retried create happen once.
"""

import json
import threading
from datetime import timedelta

import anyio
import pytest
from access_keys import KeyedClient, bearer, issue_keys
from conftest import ALICE, BOB, HOME
from pydantic import TypeAdapter, ValidationError
from test_resolutions import charge, complaint

from vasguard.bootstrap import Runtime
from vasguard.channels.http import app as app_module
from vasguard.channels.http.app import create_app
from vasguard.channels.http.fields import Prose
from vasguard.channels.http.limits import RateLimit, RateLimited
from vasguard.config import Settings
from vasguard.domain.access import Principal, Role
from vasguard.domain.clock import FixedClock
from vasguard.store import tables

PROBLEM_JSON = "application/problem+json"
ORDER = {"msisdn": ALICE, "service": "80100001"}


@pytest.fixture
def make_client(world, db_url):
    """A keyed client over an app with these settings; the keys are issued once."""
    made = []

    def make(**settings):
        rt = Runtime(Settings(database_url=db_url, **settings), fixed_clock=world.clock)
        keys = made[0][1].keys if made else issue_keys(rt, HOME)
        client = KeyedClient(create_app(rt), keys)
        made.append((rt, client))
        return client

    yield make
    for rt, client in made:
        client.close()
        rt.engine.dispose()


@pytest.fixture
def client(make_client):
    return make_client()


def counts(world):
    return tuple(
        len(world.rows(t))
        for t in (
            tables.subscriptions,
            tables.subscriber_plans,
            tables.events,
            tables.messages,
            tables.refunds,
            tables.complaints,
            tables.idempotency_keys,
        )
    )


def assert_invalid(response, location=None):
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["type"].endswith("invalid-payload") and problem["status"] == 422
    if location is not None:
        assert location in [e["location"] for e in problem["errors"]]
    return problem


# --- what the store cannot keep ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "payload", "location"),
    [
        ("get", "/api/v1/services/8010%000001", None, "path.code"),
        ("get", "/api/v1/subscribers/1380000000%001", None, "path.msisdn"),
        ("get", "/api/v1/subscribers/1380000000%001/messages", None, "path.msisdn"),
        ("post", "/api/v1/orders", {**ORDER, "service": "8010\x000001"}, "body.service"),
        ("post", "/api/v1/orders", {**ORDER, "order_ref": "ref\x00"}, "body.order_ref"),
        ("post", "/api/v1/orders", {**ORDER, "order_ref": "ref\x1b"}, "body.order_ref"),
        ("post", "/api/v1/orders", {**ORDER, "msisdn": ALICE + "\x00"}, "body.msisdn"),
        ("post", "/api/v1/plans/orders", {"msisdn": ALICE, "plan": "P58\x00"}, "body.plan"),
        ("post", "/api/v1/sms/mo", {"from": ALICE, "to": "10086\x00", "text": "0000"}, "body.to"),
        ("post", "/api/v1/sms/mo", {"from": ALICE, "text": "0000", "id": "m\x00"}, "body.id"),
        ("post", "/api/v1/complaints/TS26112%000000001/resolution", {}, "path.ticket"),
        (
            "post",
            "/api/v1/complaints/TS2611240000001/resolution",
            {"note": "refunded\x00"},
            "body.note",
        ),
        ("post", "/api/v1/refunds", {"charge_id": 2**63}, "body.charge_id"),
        ("post", "/api/v1/refunds", {"charge_id": 0}, "body.charge_id"),
        ("post", "/api/v1/refunds", {"charge_id": 1, "amount_fen": 2**31}, "body.amount_fen"),
        (
            "post",
            "/api/v1/sms/receipts",
            {"receipts": [{"id": "p\x00", "stat": "DELIVRD"}]},
            "body.receipts.0.id",
        ),
    ],
)
def test_what_the_store_cannot_keep_is_a_422_that_changes_nothing(
    client, world, method, path, payload, location
):
    complaint(world)
    before = counts(world)
    response = getattr(client, method)(path, **({"json": payload} if payload is not None else {}))
    assert_invalid(response, location)
    assert counts(world) == before


@pytest.mark.parametrize("field", ["id", "to"])
def test_a_nul_in_one_mo_of_a_batch_refuses_the_batch_and_stores_nothing(client, world, field):
    """Not "stored but not handled; send again": the gateway sent a malformed batch, is told
    which MO, and nothing of it is kept (sending it again unchanged would fail again)."""
    messages = [
        {"from": ALICE, "text": "0000", "id": "b-1"},
        {"from": BOB, "text": "0000", "id": "b-2", field: "x\x00"},
    ]
    before = counts(world)
    response = client.post("/api/v1/sms/mo-batch", json={"messages": messages})
    problem = assert_invalid(response, f"body.messages.1.{field}")
    assert "stored" not in problem["detail"]
    assert counts(world) == before


def test_an_mo_text_with_a_nul_is_kept_with_a_replacement_character(client, world):
    """The subscriber's MO is not refused for it (as over SMPP): its NUL is kept as U+FFFD."""
    response = client.post("/api/v1/sms/mo", json={"from": ALICE, "text": "00\x0000", "id": "n"})
    assert response.status_code == 200, response.text
    [mo] = world.rows(tables.messages, tables.messages.c.smsc_message_id == "n")
    assert mo["text"] == "00\ufffd00"


def test_a_note_may_hold_tabs_and_line_breaks_but_no_other_control_character():
    prose = TypeAdapter(Prose)
    assert prose.validate_python("refunded\tin full\r\nby care") == "refunded\tin full\r\nby care"
    for control in ("\x00", "\x07", "\x0b", "\x1f", "\x7f"):
        with pytest.raises(ValidationError):
            prose.validate_python(f"refunded{control}")


def test_a_json_lone_surrogate_is_a_422_not_a_500(client, world):
    before = counts(world)
    for body in (b'{"msisdn": "\\ud800", "service": "80100001"}', b'{"\\ud800": 1}'):
        response = client.post(
            "/api/v1/orders", content=body, headers={"content-type": "application/json"}
        )
        assert_invalid(response)
    assert counts(world) == before


# --- bodies ----------------------------------------------------------------------------


def test_a_ten_megabyte_field_gets_a_small_422(make_client, world):
    client = make_client(http_max_body_bytes=16 * 2**20)
    huge = "x" * 10_000_000
    before = counts(world)
    for payload in ({**ORDER, "order_ref": huge}, {**ORDER, huge: 1}, {**ORDER, "msisdn": huge}):
        response = client.post("/api/v1/orders", json=payload)
        assert_invalid(response)
        assert len(response.content) < 2_000
    assert counts(world) == before


def test_many_errors_are_listed_up_to_twenty(client):
    messages = [{"from": ALICE, "text": "x", "id": f"m\x00{n}"} for n in range(100)]
    problem = assert_invalid(client.post("/api/v1/sms/mo-batch", json={"messages": messages}))
    assert len(problem["errors"]) == 20 and "80 more" in problem["detail"]


def test_a_ten_megabyte_body_is_refused_at_the_default_limit(client, world):
    before = counts(world)
    response = client.post("/api/v1/orders", json={**ORDER, "order_ref": "x" * 10_000_000})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["type"].endswith("body-too-large")
    assert counts(world) == before


def test_the_default_limit_fits_the_largest_batch():
    """500 MOs of 2000 characters, each character \\u-escaped: the largest legitimate body."""
    mo = {"from": "+86 138 0000 0001", "to": "10086977", "text": "中" * 2000, "id": "x" * 64}
    largest = json.dumps({"messages": [mo] * 500}, ensure_ascii=True).encode()
    assert len(largest) <= Settings().http_max_body_bytes


def _post_streamed(app, chunks, headers=()):
    """POST /api/v1/orders at the ASGI app with a body ``receive`` hands over in chunks;
    the answer's status and body, and how many bytes of the body the app took."""
    taken = 0
    sent = []

    async def receive():
        nonlocal taken
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/orders",
        "raw_path": b"/api/v1/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), taken


def _two_hundred_megabytes():
    yield b'{"msisdn": "13800000001", "service": "80100001", "order_ref": "'
    for _ in range(200 * 16):
        yield b"x" * 65_536


@pytest.mark.parametrize("declared", [False, True])
def test_a_huge_body_is_refused_without_being_read(world, db_url, declared):
    limit = 1_000_000
    rt = Runtime(Settings(database_url=db_url, http_max_body_bytes=limit), fixed_clock=world.clock)
    keys = issue_keys(rt, HOME)
    headers = [(b"authorization", f"Bearer {keys['operator']}".encode())]
    if declared:
        headers.append((b"content-length", str(200 * 2**20).encode()))
    before = counts(world)
    try:
        status, problem, taken = _post_streamed(create_app(rt), _two_hundred_megabytes(), headers)
    finally:
        rt.engine.dispose()
    assert status == 413 and problem["type"].endswith("body-too-large")
    assert problem["max_body_bytes"] == limit
    # Declared too large: not a byte read. Streamed: read up to the chunk that passed it.
    assert taken == 0 if declared else limit < taken <= limit + 65_536
    assert counts(world) == before


# --- rate limit ------------------------------------------------------------------------


def test_a_partner_flooding_orders_gets_429_and_other_keys_do_not(make_client, world):
    client = make_client(http_partner_rate_per_second=0.1)  # a bucket of one request
    keys = client.keys
    first = client.post("/api/v1/orders", json=ORDER, headers=bearer(keys["partner"]))
    assert first.status_code == 201, first.text
    before = counts(world)
    flood = client.post(
        "/api/v1/orders", json={**ORDER, "msisdn": BOB}, headers=bearer(keys["partner"])
    )
    assert flood.status_code == 429
    assert flood.headers["retry-after"] == "10"
    assert flood.headers["content-type"].startswith(PROBLEM_JSON)
    assert flood.json()["type"].endswith("rate-limited")
    assert counts(world) == before
    other = client.get("/api/v1/services/80200001", headers=bearer(keys["partner-other"]))
    assert other.status_code == 200
    operator = client.post("/api/v1/orders", json={**ORDER, "msisdn": BOB})
    assert operator.status_code == 201
    world.clock.advance(timedelta(seconds=10))
    later = client.get("/api/v1/services/80100001", headers=bearer(keys["partner"]))
    assert later.status_code == 200


def test_a_bucket_holds_ten_seconds_of_its_rate_and_refills_with_the_clock(world):
    clock = FixedClock(world.clock.now())
    limit = RateLimit(clock, rate=2.0, partner_rate=0.5)
    operator = Principal(key_row_id=1, name="ops", role=Role.OPERATOR)
    partner = Principal(key_row_id=2, name="p", role=Role.PARTNER, provider_id=2)
    for _ in range(20):
        limit.take(operator)
    with pytest.raises(RateLimited) as over:
        limit.take(operator)
    assert over.value.retry_after == 1
    for _ in range(5):
        limit.take(partner)  # the partner's own bucket, untouched by the operator's
    with pytest.raises(RateLimited) as partner_over:
        limit.take(partner)
    assert partner_over.value.retry_after == 2
    clock.advance(timedelta(seconds=1))
    limit.take(operator)
    limit.take(operator)
    with pytest.raises(RateLimited):
        limit.take(operator)
    clock.advance(timedelta(seconds=-60))  # a clock set back refills nothing, drains nothing
    with pytest.raises(RateLimited):
        limit.take(operator)


# --- idempotency keys ------------------------------------------------------------------


def test_an_order_sent_again_with_its_key_is_answered_once_and_done_once(client, world):
    first = client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(world.rows(tables.subscriptions)) == 1
    without = client.post("/api/v1/orders", json=ORDER)
    assert without.status_code == 409  # no key: judged as ever, and pending already


def test_a_key_used_for_another_request_is_refused(client, world):
    client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
    before = counts(world)
    other = client.post(
        "/api/v1/orders", json={**ORDER, "msisdn": BOB}, headers={"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM_JSON)
    assert other.json()["type"].endswith("idempotency-key-reused")
    elsewhere = client.post(
        "/api/v1/plans/orders",
        json={"msisdn": BOB, "plan": "P58"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert elsewhere.status_code == 422
    assert counts(world) == before


def test_keys_belong_to_the_api_key_that_sent_them(client, world):
    key = {"Idempotency-Key": "k-1"}
    mine = client.post("/api/v1/orders", json=ORDER, headers=key)
    partners = client.post(
        "/api/v1/orders",
        json={**ORDER, "msisdn": BOB},
        headers={**key, **bearer(client.keys["partner"])},
    )
    assert (mine.status_code, partners.status_code) == (201, 201)
    assert len(world.rows(tables.subscriptions)) == 2


def test_a_refused_request_frees_its_key(client, world):
    key = {"Idempotency-Key": "k-2"}
    refused = client.post("/api/v1/orders", json={**ORDER, "service": "80100003"}, headers=key)
    assert refused.status_code == 409 and refused.json()["type"].endswith("not-monthly")
    invalid = client.post("/api/v1/orders", json={"msisdn": ALICE}, headers=key)
    assert invalid.status_code == 422
    done = client.post("/api/v1/orders", json=ORDER, headers=key)
    assert done.status_code == 201, done.text
    assert [r["status_code"] for r in world.rows(tables.idempotency_keys)] == [201]


def test_a_bad_key_is_a_422(client, world):
    before = counts(world)
    for bad in ("k\x01", "k" * 65):
        response = client.post("/api/v1/orders", json=ORDER, headers={"Idempotency-Key": bad})
        assert_invalid(response, "header.Idempotency-Key")
    assert counts(world) == before


def test_a_resolution_and_a_plan_order_sent_again_get_their_first_answer(client, world):
    sid = world.subscribe()
    charge(world, sid, "2026-11")
    ticket = complaint(world, subscription_id=sid)
    key = {"Idempotency-Key": "r-1"}
    url = f"/api/v1/complaints/{ticket}/resolution"
    first = client.post(url, json={"refund": True, "note": "refunded\nin full"}, headers=key)
    assert first.status_code == 200 and first.json()["refunded_fen"] == 200
    again = client.post(url, json={"refund": True, "note": "refunded\nin full"}, headers=key)
    assert (again.status_code, again.content) == (200, first.content)
    assert client.post(url, json={"refund": True, "note": "refunded\nin full"}).status_code == 409
    plan = {"msisdn": BOB, "plan": "P58"}
    ordered = client.post("/api/v1/plans/orders", json=plan, headers={"Idempotency-Key": "p-1"})
    replay = client.post("/api/v1/plans/orders", json=plan, headers={"Idempotency-Key": "p-1"})
    assert ordered.status_code == 201 and replay.content == ordered.content
    assert (
        len(world.rows(tables.subscriber_plans, tables.subscriber_plans.c.subscriber_id == 2)) == 1
    )
    assert len(world.rows(tables.refunds)) == 1


def test_a_retry_while_the_first_is_being_done_is_told_to_retry(client, world, monkeypatch):
    """The first order is held inside its work; the retry with its key is a 409 "in
    progress", then gets the first's answer once that is done."""
    entered, go_on = threading.Event(), threading.Event()
    place_order = app_module.place_order

    def held(*args, **kwargs):
        entered.set()
        assert go_on.wait(30)
        return place_order(*args, **kwargs)

    monkeypatch.setattr(app_module, "place_order", held)
    key = {"Idempotency-Key": "k-3"}
    answers = {}
    first = threading.Thread(
        target=lambda: answers.update(first=client.post("/api/v1/orders", json=ORDER, headers=key))
    )
    first.start()
    try:
        assert entered.wait(30)
        meanwhile = client.post("/api/v1/orders", json=ORDER, headers=key)
    finally:
        go_on.set()
        first.join(30)
    assert meanwhile.status_code == 409
    assert meanwhile.json()["type"].endswith("request-in-progress")
    assert answers["first"].status_code == 201
    later = client.post("/api/v1/orders", json=ORDER, headers=key)
    assert (later.status_code, later.content) == (201, answers["first"].content)
    assert len(world.rows(tables.subscriptions)) == 1


def test_the_same_key_posted_twice_at_once_creates_one_order(client, world):
    key = {"Idempotency-Key": "k-4"}
    start = threading.Barrier(2)
    answers = []

    def post():
        start.wait(30)
        answers.append(client.post("/api/v1/orders", json=ORDER, headers=key))

    posters = [threading.Thread(target=post) for _ in range(2)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join(60)
    assert sorted(a.status_code for a in answers)[0] == 201
    # The other was told to retry, or (had the first finished) given its answer: never
    # judged by the order rules as a second order.
    others = [a for a in answers if a.status_code != 201]
    assert all(a.json()["type"].endswith("request-in-progress") for a in others)
    assert len({a.content for a in answers if a.status_code == 201}) == 1
    assert len(world.rows(tables.subscriptions)) == 1
