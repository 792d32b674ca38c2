"""Routes that name a row by its id or ticket, and lists, on a three-shard deployment.

A subscription, a charge or a complaint is found on the shard that made it (its id range,
or the shard number in a ticket); one a subscriber took along when moved is found on its
new shard. A list without a number pages every shard in one id order (each row once); a
provincial key's list is its province's shard alone. Reuses ``test_sharded``'s deployment
(a national database and shards east, north, west, with their id ranges claimed).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from access_keys import KeyedClient, bearer, issue_keys
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from test_api_billing import wait_for_bill_runs
from test_console import log_in, session_csrf
from test_my import form_csrf
from test_sharded import (
    AT,
    NUMBERS,
    PROVINCES,
    SHARDS,
    _charges,
    _customers,
    _order_and_confirm,
    _run,
    deployment,
)

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.domain.clock import FixedClock
from vasguard.domain.complaints import complaint_id_of
from vasguard.domain.shards import ID_RANGE, Addressed
from vasguard.services.intake import receive_mo
from vasguard.services.outbox import flush
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("sharded")

__all__ = ["deployment"]  # the fixture, imported for pytest to find

SHARD_OF = dict(zip(PROVINCES, SHARDS, strict=True))


def _ids(engine: Engine, table) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.scalars(select(table.c.id)))


def _paged(client, path: str, limit: int) -> list[dict]:
    """Every item of a list route, ``limit`` at a time by its cursor."""
    items, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = client.get(path, params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_rows_are_made_in_their_shards_id_range(deployment):
    d = deployment
    for province in PROVINCES:
        _order_and_confirm(d.sharded, NUMBERS[province][0])
    for number, name in enumerate(SHARDS, 1):
        ids = _ids(d.shards[name], tables.subscriptions)
        assert ids and all(number * ID_RANGE <= i < (number + 1) * ID_RANGE for i in ids)


def test_a_subscription_charge_and_complaint_are_found_on_their_shard(deployment):
    d = deployment
    _customers(d)
    assert _run(d.env, "jobs", "bill", "--period", "2026-11", "--at", AT).exit_code == 0
    keys = issue_keys(d.sharded, "11")
    with KeyedClient(create_app(d.sharded), keys) as client:
        for province in PROVINCES:
            engine = d.shards[SHARD_OF[province]]
            for sid in _ids(engine, tables.subscriptions):
                found = client.get(f"/api/v1/subscriptions/{sid}")
                assert found.status_code == 200, found.text
                assert found.json()["msisdn"] in NUMBERS[province]
            for cid in _ids(engine, tables.charges):
                charge = client.get(f"/api/v1/charges/{cid}")
                assert charge.status_code == 200, charge.text
                assert charge.json()["msisdn"] in NUMBERS[province]
        west = NUMBERS["51"][0]
        west_charge = _ids(d.shards["west"], tables.charges)[0]
        refund = client.post("/api/v1/refunds", json={"charge_id": west_charge})
        assert refund.status_code == 201, refund.text
        assert client.get(f"/api/v1/subscriptions/{4 * ID_RANGE + 1}").status_code == 404
        assert client.get("/api/v1/charges/7").status_code == 404

        reply = receive_mo(
            d.sharded.uow_for(west),
            d.sharded.clock(),
            d.sharded.deployment,
            msisdn=west,
            to="10086",
            text="TS80100001 我没订过",
        ).replies[0]
        with d.shards["west"].connect() as conn:
            ticket = conn.scalar(select(tables.complaints.c.ticket))
        assert ticket in reply and len(ticket) <= 20
        assert complaint_id_of(ticket) == _ids(d.shards["west"], tables.complaints)[0]
        seen = client.get(f"/api/v1/complaints/{ticket}")
        assert seen.status_code == 200 and seen.json()["msisdn"] == west, seen.text
        elsewhere = client.get(f"/api/v1/complaints/{ticket}", headers=bearer(keys["care-home"]))
        assert elsewhere.status_code == 404  # a Beijing care key: not its province
        resolved = client.post(f"/api/v1/complaints/{ticket}/resolution", json={"refund": False})
        assert resolved.status_code == 200, resolved.text
    r = tables.refunds.c
    with d.shards["west"].connect() as conn:
        assert conn.scalar(select(r.charge_id)) == west_charge
        assert conn.scalar(select(tables.complaints.c.status)) == "resolved"
    for name in ("east", "north"):
        assert _ids(d.shards[name], tables.refunds) == []
        assert _ids(d.shards[name], tables.complaints) == []


def test_care_confirms_an_order_on_its_subscribers_shard(deployment):
    d = deployment
    north = NUMBERS["11"][1]
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "11")) as client:
        placed = client.post("/api/v1/orders", json={"msisdn": north, "service": "80100001"})
        assert placed.status_code == 201, placed.text
        sid = placed.json()["subscription_id"]
        with d.shards["north"].connect() as conn:
            code = conn.scalar(
                select(tables.subscriptions.c.confirmation_code).where(
                    tables.subscriptions.c.id == sid
                )
            )
        confirmed = client.post(
            f"/api/v1/subscriptions/{sid}/confirmation",
            json={"code": code},
            headers=bearer(client.keys["care"]) | {"Idempotency-Key": "confirm-1"},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["subscription"]["state"] == "active"


def test_lists_page_every_shard_once_in_id_order(deployment):
    d = deployment
    _customers(d)
    assert _run(d.env, "jobs", "bill", "--period", "2026-11", "--at", AT).exit_code == 0
    keys = issue_keys(d.sharded, "11")
    everywhere = {
        "/api/v1/subscriptions": tables.subscriptions,
        "/api/v1/charges": tables.charges,
        "/api/v1/subscribers": tables.subscribers,
    }
    with KeyedClient(create_app(d.sharded), keys) as client:
        for path, table in everywhere.items():
            expected = sorted(i for name in SHARDS for i in _ids(d.shards[name], table))
            assert len({i // ID_RANGE for i in expected}) == 3
            listed = [item["id"] for item in _paged(client, path, limit=2)]
            assert listed == expected, path
        beijing = client.get(
            "/api/v1/subscriptions", params={"limit": 50}, headers=bearer(keys["care-home"])
        )
        assert beijing.status_code == 200
        assert {s["msisdn"] for s in beijing.json()["items"]} == set(NUMBERS["11"])
        one = client.get("/api/v1/charges", params={"msisdn": NUMBERS["31"][0]})
        assert {c["msisdn"] for c in one.json()["items"]} == {NUMBERS["31"][0]}


def test_a_moved_subscribers_rows_are_found_by_id_on_the_new_shard(deployment):
    d = deployment
    east = NUMBERS["31"][0]
    _order_and_confirm(d.sharded, east)
    sid = _ids(d.shards["east"], tables.subscriptions)[0]
    moved = _run(d.env, "shards", "move", "--msisdn", east, "--to", "north", "--province", "11")
    assert moved.exit_code == 0, moved.output
    assert _ids(d.shards["east"], tables.subscriptions) == []
    assert d.sharded.shard_holding(Addressed.SUBSCRIPTION, sid) == "north"
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "11")) as client:
        found = client.get(f"/api/v1/subscriptions/{sid}")
        assert found.status_code == 200 and found.json()["msisdn"] == east, found.text


def _code_sent(engine: Engine) -> str:
    m = tables.messages.c
    with engine.connect() as conn:
        texts = list(conn.scalars(select(m.text).where(m.kind == "login_code")))
    found = re.search(r"\d{6}", texts[-1]) if texts else None
    assert found, texts
    return found.group(0)


def test_a_customer_logs_in_and_cancels_on_their_own_shard(deployment):
    d = deployment
    west = NUMBERS["51"][0]
    _order_and_confirm(d.sharded, west)
    with TestClient(create_app(d.sharded), follow_redirects=False) as client:
        asked = client.post(
            "/my/code", data={"msisdn": west, "csrf": form_csrf(client.get("/my/").text)}
        )
        assert asked.status_code == 200, asked.text
        done = client.post(
            "/my/login",
            data={
                "msisdn": west,
                "code": _code_sent(d.shards["west"]),
                "csrf": form_csrf(asked.text),
            },
        )
        assert done.status_code == 303, done.text
        cookie = client.cookies["vg_my"]
        assert cookie.startswith("west.")
        services = client.get("/my/")
        assert "80100001" in services.text or "天气" in services.text, services.text
        [sid] = _ids(d.shards["west"], tables.subscriptions)
        csrf = form_csrf(services.text)
        cancelled = client.post("/my/cancel/confirmed", data={"ids": str(sid), "csrf": csrf})
        assert cancelled.status_code == 200, cancelled.text
        client.cookies.set("vg_my", "east." + cookie.split(".", 1)[1], path="/my")
        assert client.get("/my/").status_code == 200  # another shard's: not logged in there
        assert 'name="msisdn"' in client.get("/my/").text
    s = tables.subscriptions.c
    with d.shards["west"].connect() as conn:
        assert conn.scalar(select(s.state).where(s.id == sid)) == "cancelled"
    for name in ("east", "north"):
        assert _ids(d.shards[name], tables.customer_sessions) == []
        assert _ids(d.shards[name], tables.login_codes) == []
    assert _ids(d.sharded.engine, tables.customer_sessions) == []


def _at(deployment) -> Runtime:
    """The sharded runtime a day after the reminders: November's first month is due."""
    zone = ZoneInfo(deployment.sharded.settings.timezone)
    return Runtime(
        deployment.sharded.settings,
        fixed_clock=FixedClock(datetime.fromisoformat(AT).replace(tzinfo=zone)),
    )


def _single_database_billed(d) -> list[tuple]:
    single = {"VASGUARD_DATABASE_URL": d.single.settings.database_url}
    billed = _run(single, "jobs", "bill", "--period", "2026-11", "--at", AT)
    assert billed.exit_code == 0, billed.output
    return _charges([d.single.engine])


def test_a_bill_run_started_over_the_api_runs_on_every_shard(deployment):
    d = deployment
    _customers(d)
    rt = _at(d)
    with KeyedClient(create_app(rt), issue_keys(rt, "11")) as client:
        started = client.post("/api/v1/bill-runs", json={"period": "2026-11"})
        assert started.status_code == 202, started.text
        runs = started.json()["runs"]
        assert sorted(r // ID_RANGE for r in runs) == [1, 2, 3] and started.json()["id"] in runs
        wait_for_bill_runs()
        for run_id in runs:
            run = client.get(f"/api/v1/bill-runs/{run_id}")
            assert run.status_code == 200 and run.json()["status"] == "finished", run.text
        assert [r["id"] for r in _paged(client, "/api/v1/bill-runs", limit=2)] == sorted(runs)
    assert _charges(list(d.shards.values())) == _single_database_billed(d)


def test_a_bill_run_started_in_the_console_runs_on_every_shard(deployment):
    d = deployment
    _customers(d)
    rt = _at(d)
    keys = issue_keys(rt, "11")
    with TestClient(create_app(rt), follow_redirects=False) as console:
        log_in(console, keys["operator"])
        csrf = session_csrf(console, "/console/bill-runs")
        started = console.post("/console/bill-runs", data={"period": "2026-11", "csrf": csrf})
        assert started.status_code == 303, started.text
        assert started.headers["location"] == "/console/bill-runs?period=2026-11"
        wait_for_bill_runs()
        runs = [i for name in SHARDS for i in _ids(d.shards[name], tables.bill_runs)]
        assert len(runs) == 3
        listing = console.get(started.headers["location"])
        assert all(f"/console/bill-runs/{i}" in listing.text for i in runs), listing.text
        for name in SHARDS:  # each run's page: its summary and its own shard's audit
            [run_id] = _ids(d.shards[name], tables.bill_runs)
            with d.shards[name].connect() as conn:
                charged = conn.scalar(select(func.count()).select_from(tables.charges))
            one = console.get(f"/console/bill-runs/{run_id}")
            assert one.status_code == 200 and "无违规" in one.text, one.text
            assert f"共核查 {charged} 笔扣费" in one.text and charged > 0
    assert _charges(list(d.shards.values())) == _single_database_billed(d)


def test_receipts_over_http_settle_each_part_on_its_own_shard(deployment):
    d = deployment
    rt, smsc = d.sharded, LoopbackSmsc()
    for province in PROVINCES:
        receive_mo(
            rt.uow_for(NUMBERS[province][0]),
            rt.clock(),
            rt.deployment,
            msisdn=NUMBERS[province][0],
            to="10086",
            text="0000",
        )
    for new_uow in rt.shard_uows().values():
        assert flush(new_uow(), rt.clock(), smsc) >= 1  # submitted: SMSC ids, no receipt yet
    receipts = smsc.receipts(rt.clock().now())
    assert len(receipts) >= 3
    with KeyedClient(create_app(rt), issue_keys(rt, "11")) as client:
        body = {"receipts": [{"id": r.smsc_message_id, "stat": "DELIVRD"} for r in receipts]}
        answer = client.post("/api/v1/sms/receipts", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"final": len(receipts), "matched": len(receipts)}
        again = client.post("/api/v1/sms/receipts", json=body)  # a repeat changes nothing
        assert again.status_code == 200, again.text
    p = tables.message_parts.c
    for name in SHARDS:
        with d.shards[name].connect() as conn:
            states = list(conn.scalars(select(p.state)))
            kept = conn.scalar(select(func.count()).select_from(tables.unmatched_receipts))
        assert states and set(states) == {"delivered"}, (name, states)
        assert kept == 0, name


def test_the_consoles_subscriber_page_and_phone_work_on_the_subscribers_shard(deployment):
    d = deployment
    north, west = NUMBERS["11"][0], NUMBERS["51"][0]
    _order_and_confirm(d.sharded, north)
    keys = issue_keys(d.sharded, "11")
    with TestClient(create_app(d.sharded), follow_redirects=False) as console:
        log_in(console, keys["operator"])
        profile = console.get(f"/console/subscribers/{north}")
        assert profile.status_code == 200 and "80100001" in profile.text, profile.text
        csrf = session_csrf(console, f"/console/phone/{west}")
        sent = console.post(f"/console/phone/{west}/mo", data={"text": "0000", "csrf": csrf})
        assert sent.status_code == 303, sent.text
        assert "0000" in console.get(f"/console/phone/{west}").text
    m = tables.messages.c
    for name, expected in (("west", ["0000"]), ("east", []), ("north", [])):
        with d.shards[name].connect() as conn:
            texts = list(conn.scalars(select(m.text).where(m.direction == "mo", m.text == "0000")))
        assert texts == expected, name


BAD_KEYS = [
    ("get", "/api/v1/complaints/TS26120103%000001"),
    ("get", "/api/v1/complaints/TS2612010300000012345678"),
    ("get", "/api/v1/complaints/%E4%BD%A0%E5%A5%BD"),
    ("get", "/api/v1/subscriptions/0"),
    ("get", f"/api/v1/subscriptions/{2**63}"),
    ("get", "/api/v1/charges/-1"),
    ("get", "/api/v1/bill-runs/abc"),
    ("post", "/api/v1/complaints/TS%00/resolution"),
]


def test_bad_keys_and_forged_customer_cookies_on_the_shards_are_clear_answers(deployment):
    d = deployment
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "11")) as client:
        for method, path in BAD_KEYS:
            answer = getattr(client, method)(path, **({"json": {}} if method == "post" else {}))
            assert answer.status_code in (404, 422), (path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
    for cookie in ["nosuch.token", "east.", ".x", "a.b.c", "east.%00", "x" * 4000]:
        with TestClient(create_app(d.sharded), follow_redirects=False) as client:
            client.cookies.set("vg_my", cookie, path="/my")
            home = client.get("/my/")
            assert home.status_code == 200 and 'name="msisdn"' in home.text, cookie
            cancel = client.post("/my/cancel/confirmed", data={"ids": "1", "csrf": "x"})
            assert cancel.status_code == 303, cookie  # to the login page
    for engine in [d.sharded.engine, *d.shards.values()]:
        assert _ids(engine, tables.customer_sessions) == []
