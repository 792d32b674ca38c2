"""The web console over HTTP (no browser): login with a staff key, sessions, CSRF,
languages, the phone simulator's MO path and the subscriber page. Both stores."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from conftest import ALICE, BOB
from fastapi.testclient import TestClient

from vasguard.bootstrap import Runtime
from vasguard.channels.console.strings import TEXTS
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.config import Settings
from vasguard.services.billing import run_bill
from vasguard.services.keys import revoke_key
from vasguard.services.outbox import flush, record_receipt
from vasguard.services.reminders import run_reminders
from vasguard.store import tables


@pytest.fixture
def client(rt):
    with TestClient(create_app(rt), follow_redirects=False) as c:
        yield c


def login_csrf(client: TestClient) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def log_in(client: TestClient, key: str) -> TestClient:
    response = client.post("/console/login", data={"key": key, "csrf": login_csrf(client)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/"
    return client


def session_csrf(client: TestClient, path: str = "/console/") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_a_care_key_logs_in_to_a_server_side_session_in_a_strict_cookie(client, keys, world):
    response = client.post("/console/login", data={"key": keys["care"], "csrf": login_csrf(client)})
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("vg_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    token = cookie.split(";")[0].removeprefix("vg_session=")
    [row] = world.rows(tables.console_sessions)
    assert row["token_sha256"] != token.encode() and row["ended_at"] is None
    home = client.get("/console/")
    assert home.status_code == 200 and "care" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]


@pytest.mark.parametrize("role", ["partner", "gateway"])
def test_partner_and_gateway_keys_are_refused_by_the_console(client, keys, world, role):
    response = client.post("/console/login", data={"key": keys[role], "csrf": login_csrf(client)})
    assert response.status_code == 403
    assert "合作伙伴和网关的密钥不能登录管理台" in response.text
    assert world.rows(tables.console_sessions) == []
    assert client.get("/console/").status_code == 303


def test_a_wrong_key_or_a_login_without_its_csrf_token_opens_nothing(client, keys, world):
    wrong = client.post("/console/login", data={"key": "vg_nope", "csrf": login_csrf(client)})
    assert wrong.status_code == 403 and "密钥无效" in wrong.text
    login_csrf(client)
    forged = client.post("/console/login", data={"key": keys["operator"], "csrf": "guess"})
    assert forged.status_code == 403
    assert world.rows(tables.console_sessions) == []


def test_revoking_the_key_ends_its_session_at_the_next_request(rt, client, keys, world):
    log_in(client, keys["care"])
    assert client.get("/console/").status_code == 200
    revoke_key(rt.uow(), rt.clock(), name="care")
    response = client.get("/console/")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?ended=1"
    [row] = world.rows(tables.console_sessions)
    assert row["ended_at"] == world.clock.now()


def test_a_session_ends_after_its_lifetime(client, keys, world):
    log_in(client, keys["operator"])
    world.clock.advance(timedelta(hours=8))
    assert client.get("/console/").status_code == 303


def test_logout_needs_the_session_csrf_token_and_then_ends_the_session(client, keys):
    log_in(client, keys["operator"])
    assert client.post("/console/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/console/").status_code == 200
    out = client.post("/console/logout", data={"csrf": session_csrf(client)})
    assert out.status_code == 303 and out.headers["location"] == "/console/login?out=1"
    assert client.get("/console/").status_code == 303


def test_the_language_switch_keeps_to_the_console(client, keys):
    log_in(client, keys["operator"])
    assert "手机模拟器" in client.get("/console/").text
    switched = client.get("/console/lang", params={"to": "en", "next": "/console/phone"})
    assert switched.headers["location"] == "/console/phone"
    assert "Phone simulator" in client.get("/console/").text
    away = client.get("/console/lang", params={"to": "zh", "next": "//evil.example/"})
    assert away.headers["location"] == "/console/"


def test_every_string_is_in_both_languages():
    assert all(zh.strip() and en.strip() for zh, en in TEXTS.values())


def test_the_console_is_not_in_the_api_schema(client):
    assert not [p for p in client.get("/openapi.json").json()["paths"] if "console" in p]


def test_the_simulator_texts_through_intake_naming_the_console_key(client, keys, world):
    world.subscribe("80100001")
    log_in(client, keys["care"])
    csrf = session_csrf(client, f"/console/phone/{ALICE}")
    sent = client.post(
        f"/console/phone/{ALICE}/mo",
        data={"text": "0000", "csrf": csrf},
        headers={"Accept": "application/json"},
    )
    assert sent.status_code == 200 and sent.json() == {"ok": True}
    mo = world.rows(tables.messages, tables.messages.c.direction == "mo")[-1]
    assert mo["text"] == "0000" and mo["handled_at"] is not None
    care_key = world.rows(tables.api_keys, tables.api_keys.c.name == "care")[0]
    assert mo["smsc_message_id"].startswith(f"console-k{care_key['id']}-")
    feed = client.get(f"/console/phone/{ALICE}/messages").json()["messages"]
    assert feed[-1]["mine"] is False and "天气预报" in feed[-1]["text"]


def test_a_simulated_mo_without_the_csrf_token_is_not_taken(client, keys, world):
    log_in(client, keys["care"])
    before = world.rows(tables.messages)
    sent = client.post(f"/console/phone/{ALICE}/mo", data={"text": "0000"})
    assert sent.status_code == 403
    assert world.rows(tables.messages) == before


def test_a_provincial_key_cannot_text_as_another_provinces_subscriber(client, keys, world):
    log_in(client, keys["care-elsewhere"])
    csrf = session_csrf(client, "/console/phone")
    sent = client.post(f"/console/phone/{ALICE}/mo", data={"text": "0000", "csrf": csrf})
    assert sent.status_code == 400 and "本网没有这个用户" in sent.text
    assert client.get(f"/console/phone/{ALICE}").status_code == 404
    assert world.rows(tables.messages) == []


def test_a_bad_number_or_an_empty_message_is_a_clear_answer(client, keys, world):
    log_in(client, keys["care"])
    bad = client.get("/console/phone", params={"msisdn": "12ab"})
    assert bad.status_code == 200 and "这不是一个有效的手机号码" in bad.text
    csrf = session_csrf(client, "/console/phone")
    empty = client.post(
        f"/console/phone/{ALICE}/mo",
        data={"text": "  ", "csrf": csrf},
        headers={"Accept": "application/json"},
    )
    assert empty.status_code == 400 and empty.json()["error"]
    assert world.rows(tables.messages) == []


def test_the_simulator_is_refused_when_a_real_smsc_is_configured(world, db_url, keys):
    rt = Runtime(
        Settings(database_url=db_url, smpp_host="127.0.0.1", smpp_system_id="vg"),
        fixed_clock=world.clock,
    )
    with TestClient(create_app(rt), follow_redirects=False) as client:
        log_in(client, keys["operator"])
        csrf = session_csrf(client, "/console/phone")
        sent = client.post(f"/console/phone/{ALICE}/mo", data={"text": "0000", "csrf": csrf})
    rt.engine.dispose()
    assert sent.status_code == 400 and "内置短信中心" in sent.text
    assert world.rows(tables.messages) == []


def test_the_poll_without_a_session_is_a_401_not_a_page(client):
    polled = client.get(f"/console/phone/{ALICE}/messages", headers={"Accept": "application/json"})
    assert polled.status_code == 401 and "error" in polled.json()


def test_the_picker_offers_subscribers_the_key_may_see(client, keys, world):
    log_in(client, keys["care-home"])
    assert f"/console/phone/{ALICE}" in client.get("/console/phone").text
    client.post("/console/logout", data={"csrf": session_csrf(client)})
    log_in(client, keys["care-elsewhere"])
    assert f"/console/phone/{ALICE}" not in client.get("/console/phone").text


def charged(world) -> int:
    """BOB orders the weather service, confirms by SMS and is reminded (the handset
    delivers); a day later November's bill run charges him. The charge's id."""
    placed = world.order("80100001", BOB)
    world.sms(f"是{placed.code}", BOB)
    smsc = LoopbackSmsc()
    run_reminders(world.uow(), world.clock, world.deployment)
    flush(world.uow(), world.clock, smsc)
    for receipt in smsc.receipts(world.clock.now(), delivered=True):
        record_receipt(world.uow(), receipt)
    world.clock.advance(timedelta(hours=25))
    run_bill(world.uow(), world.clock, world.deployment, "2026-11", wall_clock=world.clock)
    [charge] = world.rows(
        tables.charges, tables.charges.c.subscription_id == placed.subscription_id
    )
    return int(charge["id"])


def test_the_subscriber_page_shows_the_timeline_and_links_each_charge(client, keys, world):
    charge_id = charged(world)
    log_in(client, keys["care"])
    found = client.get("/console/subscribers", params={"msisdn": f"+86 {BOB}"})
    assert found.status_code == 303 and found.headers["location"] == f"/console/subscribers/{BOB}"
    page = client.get(f"/console/subscribers/{BOB}")
    assert page.status_code == 200
    timeline = page.text.split('id="timeline"')[1]
    assert "是" in timeline and "天气预报" in timeline
    assert "上行短信" in timeline and "下行短信" in timeline and "扣费" in timeline
    assert "delivered" in timeline
    assert f'href="/console/charges/{charge_id}"' in page.text
    chain = client.get(f"/console/charges/{charge_id}")
    assert chain.status_code == 200 and "扣费提醒短信" in chain.text


def test_the_subscriber_page_shows_the_plan_history(client, keys):
    log_in(client, keys["care"])
    plans = client.get(f"/console/subscribers/{ALICE}").text.split('id="plans"')[1]
    held = plans.split("</ul>")[0]
    assert "58元套餐" in held and "(P58)" in held and "2026-01-24 10:00:00 → 至今" in held


def test_a_provincial_care_key_finds_no_subscriber_or_charge_of_another_province(
    client, keys, world
):
    charge_id = charged(world)
    log_in(client, keys["care-elsewhere"])
    page = client.get(f"/console/subscribers/{BOB}")
    assert page.status_code == 404 and "本网没有这个用户" in page.text
    assert BOB not in page.text.split("<main>")[1].replace("本网没有这个用户", "")
    assert client.get(f"/console/charges/{charge_id}").status_code == 404


def test_a_refund_without_the_csrf_token_or_a_reason_changes_nothing(client, keys, world):
    charge_id = charged(world)
    log_in(client, keys["care"])
    forged = client.post(f"/console/charges/{charge_id}/refund", data={"reason": "wrong"})
    assert forged.status_code == 403
    assert world.rows(tables.refunds) == []
    csrf = session_csrf(client, f"/console/charges/{charge_id}")
    blank = client.post(f"/console/charges/{charge_id}/refund", data={"reason": " ", "csrf": csrf})
    assert blank.status_code == 400 and "请填写原因" in blank.text
    assert world.rows(tables.refunds) == []
    done = client.post(
        f"/console/charges/{charge_id}/refund", data={"reason": "未收到提醒", "csrf": csrf}
    )
    assert done.status_code == 303
    [refund] = world.rows(tables.refunds)
    assert refund["charge_id"] == charge_id and refund["cause_ref"] == "api:care"
    [event] = world.rows(tables.events, tables.events.c.kind == "refunded")
    assert json.loads(event["detail"])["reason"] == "未收到提醒"
    assert "link-refund" in client.get(f"/console/charges/{charge_id}").text


def test_care_cancels_and_complains_from_the_subscriber_page(client, keys, world):
    subscription_id = world.subscribe("80100001", BOB)
    log_in(client, keys["care"])
    path = f"/console/subscribers/{BOB}"
    csrf = session_csrf(client, path)
    complained = client.post(
        f"{path}/complaint",
        data={"subscription_id": subscription_id, "reason": "没订过", "csrf": csrf},
    )
    assert complained.status_code == 200 and "投诉已登记" in complained.text
    [complaint] = world.rows(tables.complaints)
    assert complaint["text"] == "没订过" and complaint["subscription_id"] == subscription_id
    cancelled = client.post(
        f"{path}/cancellation",
        data={"subscription_id": subscription_id, "reason": "用户来电要求", "csrf": csrf},
    )
    assert cancelled.status_code == 200 and "已退订" in cancelled.text
    [row] = world.rows(tables.subscriptions, tables.subscriptions.c.id == subscription_id)
    assert row["state"] == "cancelled"
    [event] = world.rows(tables.events, tables.events.c.kind == "cancelled")
    assert (event["cause_ref"], json.loads(event["detail"])["reason"]) == ("care", "用户来电要求")


def test_the_timeline_pages_back_through_every_entry(client, keys, world):
    for n in range(60):  # each an MO and its reply: 120 entries, more than a page
        world.sms(f"问题{n}", ALICE)
    log_in(client, keys["care"])
    first = client.get(f"/console/subscribers/{ALICE}")
    found = re.search(r'id="older" href="([^"]+)"', first.text)
    assert found and first.text.count('<li class="entry') == 100
    older = client.get(found.group(1).replace("&amp;", "&"))
    assert older.status_code == 200
    assert older.text.count('<li class="entry') == 20 and 'id="older"' not in older.text
    texts = re.findall(r'<span class="text">([^<]*)</span>', first.text + older.text)
    assert sum(1 for t in texts if t.startswith("问题")) == 60
    assert client.get(f"/console/subscribers/{ALICE}?older=junk").status_code == 404
