"""The partner change feed and its signed webhooks, on both stores.

The feed is read through the API after a real dialogue; the webhooks are posted by the
dispatcher (driven one pass at a time, the clock moved past each back-off) to real HTTP
receivers this module starts on free ports of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from access_keys import bearer
from conftest import ALICE, BOB, T0
from sqlalchemy import select

from vasguard.bootstrap import Runtime
from vasguard.channels.webhooks.dispatcher import WebhookDispatcher
from vasguard.domain.clock import FixedClock
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.partner_feed import SEQUENCER_LOCK, SIGNATURE_HEADER, sign, verify
from vasguard.services.orders import expire_orders
from vasguard.services.partner_feed import sequence_feed
from vasguard.services.reminders import run_reminders
from vasguard.store import tables
from vasguard.store.locks import holding

# --- a real HTTP receiver ------------------------------------------------------------------

HANG = -1  # a scripted answer: take the request and never answer it


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered (HANG: nothing)

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = json.loads(self.body)["events"]
        return events


@dataclass
class Receiver:
    """An HTTP server on a free port in a thread, answering POSTs as ``script`` says
    (the n-th request, from 0 → a status or ``HANG``), and keeping what it received."""

    script: Callable[[int], int] = lambda _n: 200
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)  # a request came
    release: threading.Event = field(default_factory=threading.Event)  # end the hangs

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.script(len(receiver.received))
                receiver.received.append(Received(dict(self.headers), body, status))
                receiver.arrived.set()
                if status == HANG:
                    receiver.release.wait(30)
                    self.close_connection = True  # hang up without a word
                    return
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/vasguard"

    def accepted(self) -> list[dict[str, Any]]:
        """Every event of every POST answered 2xx, in the order they arrived."""
        return [e for r in self.received if 200 <= r.status < 300 for e in r.events]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(script: Callable[[int], int] = lambda _n: 200) -> Receiver:
        made.append(Receiver(script))
        return made[-1]

    yield make
    for r in made:
        r.close()


# --- the platform ---------------------------------------------------------------------------

SECRET = "whsec_0123456789abcdef"
OTHER_SECRET = "another-partner-secret"


def dispatcher(rt: Runtime, clock: FixedClock, **kwargs: Any) -> WebhookDispatcher:
    options: dict[str, Any] = {
        "timeout": 30.0,
        "backoff_min": 10.0,
        "backoff_max": 60.0,
        "batch": 2,
        "rng": random.Random(1),
    }
    options.update(kwargs)
    return WebhookDispatcher(rt.uow, clock, rt.engine, **options)


def one_pass(d: WebhookDispatcher) -> dict[int, Any]:
    return asyncio.run(d.run_once())


def order(client, keys, service: str, msisdn: str = ALICE, ref: str | None = None) -> int:
    made = client.post(
        "/api/v1/orders",
        json={"msisdn": msisdn, "service": service, "order_ref": ref},
        headers=bearer(keys["partner" if service.startswith("801") else "partner-other"]),
    )
    assert made.status_code == 201, made.text
    return int(made.json()["subscription_id"])


def sms(client, text: str, msisdn: str = ALICE) -> list[str]:
    answered = client.post("/api/v1/sms/mo", json={"from": msisdn, "text": text})
    assert answered.status_code == 200, answered.text
    replies: list[str] = answered.json()["replies"]
    return replies


def feed(client, keys, key: str = "partner", after: int = 0, limit: int = 100) -> Any:
    got = client.get(
        "/api/v1/partner/events",
        params={"after": after, "limit": limit},
        headers=bearer(keys[key]),
    )
    assert got.status_code == 200, got.text
    return got.json()


def put_webhook(client, keys, url: str, key: str = "partner", **extra: Any) -> Any:
    secret = SECRET if key == "partner" else OTHER_SECRET
    put = client.put(
        "/api/v1/partner/webhook",
        json={"url": url, "secret": secret, **extra},
        headers=bearer(keys[key]),
    )
    assert put.status_code == 200, put.text
    return put.json()


def _dialogue(client, keys, world) -> tuple[int, int]:
    """Order → 是 → 0000 → 1; a complaint; order → 是 → reminder → TD."""
    first = order(client, keys, "80100001", ref="po-1")
    assert "成功订购" in sms(client, "是")[0]
    assert "1.天气预报" in sms(client, "0000")[0]
    sms(client, "1")
    sms(client, "TS80100001 乱扣费")
    second = order(client, keys, "80100002", ref="po-2")
    sms(client, "是")
    assert run_reminders(world.uow(), world.clock, world.deployment).queued == 1
    sms(client, "TD")
    return first, second


# --- the feed ---------------------------------------------------------------------------------


def test_the_feed_tells_the_partner_its_changes_in_order_with_their_causes(client, keys, world):
    first, second = _dialogue(client, keys, world)
    page = feed(client, keys)
    events = page["events"]
    assert [(e["subscription_id"], e["kind"], e["cause"]) for e in events] == [
        (first, "confirmed", "sms"),
        (first, "cancelled", "listing_cancel"),
        (first, "complaint_opened", "sms"),
        (second, "confirmed", "sms"),
        (second, "cancelled", "td_reminder"),
    ]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert page["next_after"] == seqs[-1] and page["more"] is False
    ticket = world.rows(tables.complaints)[0]["ticket"]
    assert events[2]["ticket"] == ticket
    assert events[0] == {
        "seq": seqs[0],
        "kind": "confirmed",
        "at": "2026-11-24T02:00:00Z",
        "subscription_id": first,
        "service": "80100001",
        "order_ref": "po-1",
        "msisdn": ALICE,
        "cause": "sms",
        "ticket": None,
    }
    # Nothing of the subscriber beyond the order: no complaint text, name, province.
    assert "乱扣费" not in json.dumps(events, ensure_ascii=False)
    assert {e["order_ref"] for e in events} == {"po-1", "po-2"}


def test_the_feed_pages_by_seq_and_resumes_where_it_left_off(client, keys, world):
    _dialogue(client, keys, world)
    everything = feed(client, keys)["events"]
    first = feed(client, keys, limit=2)
    assert first["events"] == everything[:2] and first["more"] is True
    rest = feed(client, keys, after=first["next_after"], limit=100)
    assert rest["events"] == everything[2:] and rest["more"] is False
    idle = feed(client, keys, after=rest["next_after"])
    assert idle == {"events": [], "next_after": rest["next_after"], "more": False}
    sms(client, "0000")  # a listing changes no subscription: no event
    order(client, keys, "80100001", ref="po-3")
    sms(client, "否")
    declined = feed(client, keys, after=rest["next_after"])["events"]
    assert [(e["kind"], e["cause"], e["order_ref"]) for e in declined] == [
        ("declined", "declined", "po-3")
    ]


def test_an_unanswered_order_is_told_as_expired(client, keys, world):
    order(client, keys, "80100002", msisdn=BOB, ref="po-bob")
    world.clock.advance(timedelta(hours=25))
    assert expire_orders(world.uow(), world.clock, cause=Cause(CauseKind.JOB, "test")) == 1
    [expired] = feed(client, keys)["events"]
    assert (expired["kind"], expired["cause"], expired["msisdn"]) == ("expired", "unconfirmed", BOB)


def test_a_partner_sees_only_its_own_services_and_other_roles_none(client, keys, world):
    _dialogue(client, keys, world)
    assert feed(client, keys, key="partner-other")["events"] == []
    other = order(client, keys, "80200002", msisdn=BOB, ref="other-1")
    sms(client, "是", msisdn=BOB)
    theirs = feed(client, keys, key="partner-other")["events"]
    assert [(e["subscription_id"], e["kind"]) for e in theirs] == [(other, "confirmed")]
    assert other not in {e["subscription_id"] for e in feed(client, keys)["events"]}
    for role in ("operator", "care", "gateway", "care-home"):
        for method, path in [
            ("get", "/api/v1/partner/events"),
            ("get", "/api/v1/partner/webhook"),
            ("delete", "/api/v1/partner/webhook"),
        ]:
            assert client.request(method, path, headers=bearer(keys[role])).status_code == 403
        put = client.put(
            "/api/v1/partner/webhook",
            json={"url": "https://example.test/h", "secret": SECRET},
            headers=bearer(keys[role]),
        )
        assert put.status_code == 403
    assert client.get("/api/v1/partner/events", headers={"Authorization": ""}).status_code == 401


# --- registration -----------------------------------------------------------------------------


def test_a_webhook_is_registered_shown_without_its_secret_and_removed(client, keys, world):
    headers = bearer(keys["partner"])
    assert client.get("/api/v1/partner/webhook", headers=headers).status_code == 404
    shown = put_webhook(client, keys, "https://partner.example/hooks")
    assert shown["url"] == "https://partner.example/hooks" and shown["delivered_seq"] == 0
    assert "secret" not in shown and SECRET not in json.dumps(shown)
    got = client.get("/api/v1/partner/webhook", headers=headers).json()
    assert got == shown
    changed = put_webhook(client, keys, "https://partner.example/v2", after=7)
    assert changed["url"].endswith("/v2") and changed["delivered_seq"] == 7
    assert client.delete("/api/v1/partner/webhook", headers=headers).status_code == 204
    assert client.get("/api/v1/partner/webhook", headers=headers).status_code == 404
    assert client.delete("/api/v1/partner/webhook", headers=headers).status_code == 204
    recorded = world.rows(tables.events, tables.events.c.entity == "webhook")
    assert [(e["kind"], e["cause_kind"], e["cause_ref"]) for e in recorded] == [
        ("webhook_registered", "api", "partner"),
        ("webhook_changed", "api", "partner"),
        ("webhook_removed", "api", "partner"),
    ]
    assert all(SECRET not in (e["detail"] or "") for e in recorded)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://partner.example/h", "secret": "too-short"},
        {"url": "ftp://partner.example/h", "secret": SECRET},
        {"url": "https:///no-host", "secret": SECRET},
        {"url": "https://user:pw@partner.example/h", "secret": SECRET},
        {"url": "https://partner.example/h\x00", "secret": SECRET},
        {"url": "https://partner.example/" + "a" * 500, "secret": SECRET},
        {"url": "https://partner.example/h", "secret": SECRET, "extra": 1},
        {"url": "https://partner.example/h", "secret": SECRET, "after": -1},
    ],
)
def test_a_bad_registration_is_refused_and_changes_nothing(client, keys, world, body):
    put = client.put("/api/v1/partner/webhook", json=body, headers=bearer(keys["partner"]))
    assert put.status_code == 422
    assert put.headers["content-type"].startswith("application/problem+json")
    assert world.rows(tables.webhooks) == []


def test_a_new_webhook_delivers_from_now_unless_told_where_to_start(
    client, keys, world, rt, receivers
):
    _dialogue(client, keys, world)
    everything = feed(client, keys)["events"]
    late = receivers()
    put_webhook(client, keys, late.url)
    one_pass(dispatcher(rt, world.clock))
    assert late.received == []  # what happened before it was registered is in the feed
    put_webhook(client, keys, late.url, after=everything[1]["seq"])
    one_pass(dispatcher(rt, world.clock))
    assert late.accepted() == everything[2:]


# --- delivery ---------------------------------------------------------------------------------


def test_a_webhook_is_signed_with_the_partners_secret(client, keys, world, rt, receivers):
    receiver = receivers()
    put_webhook(client, keys, receiver.url)
    _dialogue(client, keys, world)
    outcomes = one_pass(dispatcher(rt, world.clock, batch=50))
    assert len(receiver.received) == 1
    [post] = receiver.received
    header = post.headers[SIGNATURE_HEADER]
    now = world.clock.now()
    assert header.startswith(f"t={int(now.timestamp())},v1=")
    assert verify(SECRET, header, post.body, now)
    assert post.headers["Content-Type"] == "application/json"
    # The events posted are the feed's, document for document.
    assert post.events == feed(client, keys)["events"]
    assert outcomes[2].delivered == 5
    # What a receiver must refuse:
    assert not verify(OTHER_SECRET, header, post.body, now)  # another key
    assert not verify(SECRET, header, post.body.replace(b"po-1", b"po-9"), now)  # altered
    assert not verify(SECRET, header, post.body, now + timedelta(seconds=301))  # replayed
    assert not verify(SECRET, None, post.body, now)
    assert not verify(SECRET, "t=abc,v1=00", post.body, now)
    assert verify(SECRET, f"{header},v1=00ff", post.body, now + timedelta(seconds=299))
    assert sign(SECRET, post.body, now) == header


def test_a_receiver_failing_three_times_then_succeeding_gets_every_event_in_order(
    client, keys, world, rt, receivers
):
    receiver = receivers(lambda n: 500 if n < 3 else 200)
    put_webhook(client, keys, receiver.url)
    d = dispatcher(rt, world.clock, batch=2, backoff_min=10.0, backoff_max=60.0)
    _dialogue(client, keys, world)

    for attempt in range(1, 4):
        outcome = one_pass(d)[2]
        assert outcome.error == "HTTP 500" and outcome.delivered == 0
        hook = world.rows(tables.webhooks)[0]
        assert (hook["attempts"], hook["last_error"], hook["delivered_seq"]) == (
            attempt,
            "HTTP 500",
            0,
        )
        assert hook["next_attempt_at"] > world.clock.now()
        assert one_pass(d) == {}  # backing off: nothing is posted before its time
        assert len(receiver.received) == attempt
        world.clock.advance(timedelta(seconds=61))  # past the longest back-off
        if attempt == 2:  # more happens meanwhile: it queues behind the failed batch
            order(client, keys, "80100001", msisdn=BOB, ref="po-bob")
            sms(client, "是", msisdn=BOB)

    outcome = one_pass(d)[2]
    assert outcome.error is None and outcome.delivered == 6
    everything = feed(client, keys)["events"]
    assert len(everything) == 6
    assert receiver.accepted() == everything  # every event, once, in seq order
    assert [len(r.events) for r in receiver.received] == [2, 2, 2, 2, 2, 2]
    assert all(
        verify(SECRET, r.headers[SIGNATURE_HEADER], r.body, world.clock.now())
        for r in receiver.received
    )
    hook = world.rows(tables.webhooks)[0]
    assert hook["delivered_seq"] == everything[-1]["seq"]
    assert (hook["attempts"], hook["next_attempt_at"], hook["last_error"]) == (0, None, None)
    assert one_pass(d) == {}  # nothing left to post


def test_a_receiver_that_never_answers_does_not_delay_mo_handling(
    client, keys, world, rt, receivers
):
    hanging = receivers(lambda _n: HANG)
    healthy = receivers()
    put_webhook(client, keys, hanging.url)
    put_webhook(client, keys, healthy.url, key="partner-other")
    first = order(client, keys, "80100001", ref="po-1")
    sms(client, "是")
    theirs = order(client, keys, "80200002", msisdn=BOB, ref="other-1")
    sms(client, "是", msisdn=BOB)

    d = dispatcher(rt, world.clock, timeout=60.0)
    outcomes: list[dict[int, Any]] = []
    delivering = threading.Thread(target=lambda: outcomes.append(one_pass(d)), daemon=True)
    delivering.start()
    try:
        assert hanging.arrived.wait(10), "the dispatcher never posted"
        # While that POST hangs, the other partner's webhook is delivered ...
        assert healthy.arrived.wait(10), "one dead URL held back another partner's"
        # ... and MOs are handled and committed (each reply is in the database).
        replies = sms(client, "0000")
        assert "1.天气预报" in replies[0]
        assert "退订" in "".join(sms(client, "1"))
        with rt.engine.connect() as conn:
            state = conn.scalar(
                select(tables.subscriptions.c.state).where(tables.subscriptions.c.id == first)
            )
            listing_mt = conn.scalar(
                select(tables.messages.c.id).where(tables.messages.c.kind == "listing")
            )
        assert state == "cancelled" and listing_mt is not None
        assert delivering.is_alive() and not hanging.release.is_set()  # still hanging
        assert len(hanging.received) == 1
    finally:
        hanging.release.set()
        delivering.join(30)
    assert not delivering.is_alive()
    [outcome] = outcomes
    assert outcome[3].delivered == 1 and outcome[2].delivered == 0
    assert [(e["subscription_id"], e["kind"]) for e in healthy.accepted()] == [
        (theirs, "confirmed")
    ]
    hook = {r["provider_id"]: r for r in world.rows(tables.webhooks)}
    assert hook[2]["attempts"] == 1 and hook[2]["delivered_seq"] == 0
    assert "RemoteProtocolError" in hook[2]["last_error"]
    # The cancellation made while the URL hung is in the feed behind the confirmation,
    # and goes with it on the next try.
    assert [e["kind"] for e in feed(client, keys)["events"]] == ["confirmed", "cancelled"]


def test_the_dispatcher_runs_in_serve_and_stops_with_it(client, keys, world, rt, receivers):
    """``run`` delivers as events come, until ``stop``."""
    receiver = receivers()
    put_webhook(client, keys, receiver.url)
    order(client, keys, "80100001", ref="po-1")
    sms(client, "是")
    d = dispatcher(rt, world.clock, poll=0.05)

    async def run_until_delivered() -> None:
        running = asyncio.create_task(d.run())
        for _ in range(400):
            if receiver.accepted():
                break
            await asyncio.sleep(0.025)
        d.stop()
        await asyncio.wait_for(running, 10)

    asyncio.run(run_until_delivered())
    assert [e["kind"] for e in receiver.accepted()] == ["confirmed"]


def test_a_refused_connection_is_a_failure_retried_later(client, keys, world, rt, receivers):
    gone = receivers()
    url = gone.url
    gone.close()  # nothing listens there any more
    put_webhook(client, keys, url)
    order(client, keys, "80100001", ref="po-1")
    sms(client, "是")
    outcome = one_pass(dispatcher(rt, world.clock))[2]
    assert outcome.error is not None and "ConnectError" in outcome.error
    hook = world.rows(tables.webhooks)[0]
    assert hook["attempts"] == 1 and hook["delivered_seq"] == 0
    retry_in = hook["next_attempt_at"] - world.clock.now()
    assert timedelta(seconds=5) <= retry_in <= timedelta(seconds=10)  # 10 s, jittered


# --- the sequencer ----------------------------------------------------------------------------


def _raw_event(conn: Any, subscription_id: int) -> None:
    conn.execute(
        tables.partner_events.insert().values(
            provider_id=2,
            subscription_id=subscription_id,
            kind="confirmed",
            at=T0,
            payload=json.dumps({"subscription_id": subscription_id}),
        )
    )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_event_committed_after_a_higher_id_still_comes_after_the_last_seq_read(world, rt):
    """Ids are taken at insert and may commit out of order; seqs are given to committed
    rows only, in one sequencer, so a reader resuming after its last seq misses nothing.
    (PostgreSQL only: SQLite has one writer at a time, so its ids commit in order.)"""
    hold = lambda name: holding(rt.engine, name)  # noqa: E731
    slow = rt.engine.connect()
    slow_tx = slow.begin()
    _raw_event(slow, 101)  # takes the lower id, commits last
    with rt.engine.begin() as fast:
        _raw_event(fast, 102)
    assert sequence_feed(rt.uow, hold) == 1
    with rt.uow() as uow:
        [seen] = uow.partner_feed.page(2, 0, 10)
    assert seen.payload["subscription_id"] == 102
    slow_tx.commit()
    slow.close()
    assert sequence_feed(rt.uow, hold) == 1
    with rt.uow() as uow:
        [late] = uow.partner_feed.page(2, seen.seq, 10)
        ids = {r.payload["subscription_id"]: r.seq for r in uow.partner_feed.page(2, 0, 10)}
    assert late.payload["subscription_id"] == 101 and late.seq == seen.seq + 1
    assert ids[101] > ids[102]  # the lower id, the later seq: commit order


def test_the_sequencer_numbers_in_id_order_and_only_one_runs_at_a_time(world, rt):
    with rt.engine.begin() as conn:
        for sid in range(1, 6):
            _raw_event(conn, sid)
    with holding(rt.engine, SEQUENCER_LOCK) as taken:
        assert taken
        assert sequence_feed(rt.uow, lambda name: holding(rt.engine, name)) == 0
    assert sequence_feed(rt.uow, lambda name: holding(rt.engine, name), chunk=2) == 5
    assert sequence_feed(rt.uow, lambda name: holding(rt.engine, name)) == 0  # nothing left
    rows = world.rows(tables.partner_events)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
