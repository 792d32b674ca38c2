"""The customer's own page over HTTP (no browser): codes by SMS, their limits, the list
(the same as 0000), and cancelling with a confirmation step. Both stores."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import ALICE, BOB
from fastapi.testclient import TestClient

from vasguard.channels.http.app import create_app
from vasguard.domain.customer_login import wait_before_next_code
from vasguard.store import tables

CODE_MTS = tables.messages.c.kind == "login_code"


@pytest.fixture
def client(rt):
    with TestClient(create_app(rt), follow_redirects=False) as c:
        yield c


def form_csrf(page_text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page_text)
    assert found
    return found.group(1)


def ask_code(client: TestClient, msisdn: str = ALICE):
    return client.post(
        "/my/code", data={"msisdn": msisdn, "csrf": form_csrf(client.get("/my/").text)}
    )


def sent_code(world) -> str:
    text = world.rows(tables.messages, CODE_MTS)[-1]["text"]
    found = re.search(r"\d{6}", text)
    assert found
    return found.group(0)


def log_in(client: TestClient, world, msisdn: str = ALICE) -> str:
    """Log in; the services page's CSRF token."""
    asked = ask_code(client, msisdn)
    assert asked.status_code == 200
    done = client.post(
        "/my/login",
        data={"msisdn": msisdn, "code": sent_code(world), "csrf": form_csrf(asked.text)},
    )
    assert done.status_code == 303
    return form_csrf(client.get("/my/").text)


def test_a_code_goes_by_sms_from_the_service_number_and_is_stored_hashed(client, world):
    answer = ask_code(client)
    assert answer.status_code == 200 and "验证码已发送" in answer.text
    [mt] = world.rows(tables.messages, CODE_MTS)
    assert (
        mt["service_number"] == "10086" and mt["direction"] == "mt" and "5分钟内有效" in mt["text"]
    )
    code = sent_code(world)
    [row] = world.rows(tables.login_codes)
    assert code.encode() not in row["code_hash"] and row[
        "expires_at"
    ] == world.clock.now() + timedelta(minutes=5)


def test_a_number_not_ours_is_answered_alike_and_sent_nothing(client, world):
    answer = ask_code(client, "13999999999")
    assert answer.status_code == 200 and "验证码已发送" in answer.text
    assert world.rows(tables.messages) == [] and world.rows(tables.login_codes) == []


def test_a_malformed_number_is_a_clear_answer(client, world):
    answer = ask_code(client, "12ab")
    assert answer.status_code == 400 and "这不是一个有效的手机号码" in answer.text
    assert world.rows(tables.login_codes) == []


def test_codes_are_rate_limited_per_number(client, world):
    assert ask_code(client).status_code == 200
    again = ask_code(client)
    assert again.status_code == 429 and "验证码刚刚发过" in again.text
    assert len(world.rows(tables.login_codes)) == 1
    world.clock.advance(timedelta(minutes=1))
    assert ask_code(client).status_code == 200


def test_one_address_asks_for_ten_codes_an_hour_whatever_the_numbers(client, world):
    for n in range(10):
        assert ask_code(client, f"1399999{n:04d}").status_code == 200
    refused = ask_code(client, ALICE)
    assert refused.status_code == 429 and "次数太多" in refused.text
    assert world.rows(tables.login_codes) == []
    world.clock.advance(timedelta(hours=1))
    assert ask_code(client, ALICE).status_code == 200


def test_the_hourly_limit_counts_the_last_hour():
    from conftest import T0

    issued = [T0 + timedelta(minutes=m) for m in range(0, 50, 10)]
    assert wait_before_next_code(issued, T0 + timedelta(minutes=55)) == timedelta(minutes=5)
    assert wait_before_next_code(issued, T0 + timedelta(minutes=60)) is None
    assert wait_before_next_code(issued[-1:], T0 + timedelta(minutes=40, seconds=30)) == (
        timedelta(seconds=30)
    )


def test_five_wrong_tries_spend_the_code(client, world):
    asked = ask_code(client)
    code = sent_code(world)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        tried = client.post(
            "/my/login", data={"msisdn": ALICE, "code": wrong, "csrf": form_csrf(asked.text)}
        )
        assert tried.status_code == 403 and "验证码不正确" in tried.text, left
        asked = tried
    last = client.post(
        "/my/login", data={"msisdn": ALICE, "code": wrong, "csrf": form_csrf(asked.text)}
    )
    assert "没有可用的验证码" in last.text
    right = client.post(
        "/my/login", data={"msisdn": ALICE, "code": code, "csrf": form_csrf(last.text)}
    )
    assert right.status_code == 403 and world.rows(tables.customer_sessions) == []


def test_a_code_expires_after_five_minutes(client, world):
    asked = ask_code(client)
    world.clock.advance(timedelta(minutes=5))
    late = client.post(
        "/my/login", data={"msisdn": ALICE, "code": sent_code(world), "csrf": form_csrf(asked.text)}
    )
    assert late.status_code == 403 and world.rows(tables.customer_sessions) == []


def test_the_page_lists_what_0000_lists_and_stores_no_listing(client, world):
    world.subscribe("80100001")
    world.clock.advance(timedelta(minutes=1))
    world.subscribe("80100002")
    log_in(client, world)
    page = client.get("/my/").text
    assert re.findall(r'class="service">([^<]+)<', page) == ["天气预报", "健康百科"]
    assert world.rows(tables.listings) == []
    reply = world.sms("0000").replies[0]
    assert "1.天气预报" in reply and "2.健康百科" in reply


def test_cancelling_asks_first_then_ends_through_the_same_cancellation(client, world):
    weather = world.subscribe("80100001")
    world.clock.advance(timedelta(minutes=1))
    health = world.subscribe("80100002")
    csrf = log_in(client, world)
    asked = client.post("/my/cancel", data={"ids": [str(weather)], "csrf": csrf})
    assert asked.status_code == 200 and "确认退订" in asked.text and "天气预报" in asked.text
    assert (
        world.rows(tables.subscriptions, tables.subscriptions.c.id == weather)[0]["state"]
        == "active"
    )
    done = client.post("/my/cancel/confirmed", data={"ids": [str(weather)], "csrf": csrf})
    assert done.status_code == 200 and "已退订： 天气预报" in done.text
    [row] = world.rows(tables.subscriptions, tables.subscriptions.c.id == weather)
    assert row["state"] == "cancelled" and row["end_cause"] == "self_service"
    [event] = world.rows(
        tables.events, tables.events.c.entity_id == weather, tables.events.c.kind == "cancelled"
    )
    assert event["cause_kind"] == "customer" and event["cause_ref"].startswith("login:")
    [told] = world.rows(tables.messages, tables.messages.c.kind == "cancelled")
    assert "您已成功退订：天气预报" in told["text"] and told["send_after"] == told["created_at"]
    reply = world.sms("0000").replies[0]
    assert "天气预报" not in reply and "1.健康百科" in reply
    assert (
        world.rows(tables.subscriptions, tables.subscriptions.c.id == health)[0]["state"]
        == "active"
    )


def test_cancel_all_names_everything_listed(client, world):
    world.subscribe("80100001")
    world.subscribe("80100002")
    csrf = log_in(client, world)
    asked = client.post("/my/cancel", data={"every": "true", "csrf": csrf})
    ids = re.findall(r'name="ids" value="(\d+)"', asked.text)
    assert len(ids) == 2
    client.post("/my/cancel/confirmed", data={"ids": ids, "csrf": csrf})
    assert "您目前没有订购任何包月增值业务" in world.sms("0000").replies[0]


def test_a_cancellation_without_the_csrf_token_or_of_anothers_service_changes_nothing(
    client, world
):
    mine = world.subscribe("80100001")
    bobs = world.subscribe("80100001", BOB)
    csrf = log_in(client, world)
    forged = client.post("/my/cancel/confirmed", data={"ids": [str(mine)]})
    assert forged.status_code == 403
    other = client.post("/my/cancel/confirmed", data={"ids": [str(bobs)], "csrf": csrf})
    assert other.status_code == 400 and "所选业务已不在列表中" in other.text
    nothing = client.post("/my/cancel", data={"csrf": csrf})
    assert nothing.status_code == 400 and "请至少选择一项业务" in nothing.text
    states = {r["id"]: r["state"] for r in world.rows(tables.subscriptions)}
    assert states[mine] == "active" and states[bobs] == "active"


def test_logout_ends_the_login(client, world):
    csrf = log_in(client, world)
    client.post("/my/logout", data={"csrf": csrf})
    assert "获取验证码" in client.get("/my/").text
