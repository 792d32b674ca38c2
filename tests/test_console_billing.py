"""The console's bill-run and catalogue pages over HTTP (no browser), on both stores: an
operator starts a run and reads its summary and the audit's answer, sets and ends an
exemption; a care key reads both pages and changes nothing; bad input is a clear page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import BOB, CAROL
from fastapi.testclient import TestClient
from test_api_billing import remind, wait_for_bill_runs
from test_console import log_in, session_csrf

from vasguard.channels.console import catalogue
from vasguard.channels.http.app import create_app
from vasguard.store import tables

WEATHER = "80100001"  # 星云信息, 200 fen
NEWS = "90000001"  # 300 fen
SCHOOL = "80200001"  # exempt: 集团统付业务由单位确认


@pytest.fixture
def console(rt):
    with TestClient(create_app(rt), follow_redirects=False) as c:
        yield c


def make_billable(world) -> None:
    """BOB holds WEATHER, confirmed and reminded; CAROL never confirmed NEWS; a day later
    November can be billed (with ALICE's plan fee): 2 charges, 60 yuan."""
    placed = world.order(WEATHER, BOB)
    world.sms(f"是{placed.code}", BOB)
    world.order(NEWS, CAROL)
    remind(world)
    world.clock.advance(timedelta(hours=25))


@pytest.fixture
def billable(world):
    make_billable(world)


def start(console: TestClient, period: str = "2026-11"):
    csrf = session_csrf(console, "/console/bill-runs")
    started = console.post("/console/bill-runs", data={"period": period, "csrf": csrf})
    wait_for_bill_runs()
    return started


def test_an_operator_starts_a_run_and_reads_its_summary_and_the_audit(
    console, keys, world, billable
):
    log_in(console, keys["operator"])
    listing = console.get("/console/bill-runs")
    assert listing.status_code == 200 and 'id="start"' in listing.text
    started = start(console)
    assert started.status_code == 303
    [run] = world.rows(tables.bill_runs)
    assert started.headers["location"] == f"/console/bill-runs/{run['id']}"
    page = console.get(started.headers["location"])
    assert page.status_code == 200
    summary = page.text.split('id="summary"')[1].split('id="audit"')[0]
    assert "first · 1 · 2.00 元" in summary and "plan · 1 · 58.00 元" in summary
    assert "not_confirmed · 1" in summary
    audit = page.text.split('id="audit"')[1]
    assert "无违规" in audit and "共核查 2 笔扣费" in audit
    assert "已完成" in page.text and "60.00" in page.text
    events = world.rows(tables.events, tables.events.c.entity == "bill_run")
    assert {(e["kind"], e["cause_kind"], e["cause_ref"]) for e in events} == {
        ("bill_run_started", "api", "operator"),
        ("bill_run_finished", "api", "operator"),
    }
    listed = console.get("/console/bill-runs", params={"period": "2026-11"}).text
    assert f'href="/console/bill-runs/{run["id"]}"' in listed and "60.00 元" in listed
    console.get("/console/lang", params={"to": "en"})
    english = console.get(started.headers["location"]).text
    assert "No violations." in english and "2 charges checked." in english


def test_the_progress_poll_reads_the_run_and_needs_a_session(console, keys, world, billable):
    log_in(console, keys["operator"])
    start(console)
    [run] = world.rows(tables.bill_runs)
    progress = console.get(f"/console/bill-runs/{run['id']}/progress").json()
    assert progress == {
        "status": "finished",
        "started": "2026-11-25 11:00:00",
        "finished": "2026-11-25 11:00:00",
        "cursor": 3,
        "charged_count": 2,
        "charged_yuan": "60.00",
    }
    unknown = console.get("/console/bill-runs/999/progress")
    assert unknown.status_code == 404 and unknown.json() == {"error": "没有这个出账批次。"}
    missing = console.get("/console/bill-runs/999")
    assert missing.status_code == 404 and "没有这个出账批次" in missing.text
    console.post("/console/logout", data={"csrf": session_csrf(console)})
    polled = console.get(
        f"/console/bill-runs/{run['id']}/progress", headers={"Accept": "application/json"}
    )
    assert polled.status_code == 401


def test_a_care_session_has_no_start_form_and_its_post_starts_nothing(
    console, keys, world, billable
):
    log_in(console, keys["care"])
    listing = console.get("/console/bill-runs")
    assert listing.status_code == 200
    assert 'id="start"' not in listing.text and "只有运营角色可以启动出账" in listing.text
    refused = start(console)
    assert refused.status_code == 403 and "未启动任何出账" in refused.text
    assert world.rows(tables.bill_runs) == [] and world.rows(tables.charges) == []


def test_a_bad_period_a_period_not_begun_or_a_missing_csrf_token_starts_nothing(
    console, keys, world, billable
):
    log_in(console, keys["operator"])
    for typed in ("2026-13", "11/2026", "", "x" * 150):
        bad = start(console, typed)
        assert bad.status_code == 400, typed
        assert "账期格式不对" in bad.text and "Traceback" not in bad.text
    early = start(console, "2026-12")
    assert early.status_code == 409 and "该账期尚未开始" in early.text
    forged = console.post("/console/bill-runs", data={"period": "2026-11"})
    assert forged.status_code == 403 and "表单已失效" in forged.text
    filtered = console.get("/console/bill-runs", params={"period": "nope"})
    assert filtered.status_code == 400 and "账期格式不对" in filtered.text
    assert world.rows(tables.bill_runs) == [] and world.rows(tables.charges) == []


def exemption_events(world):
    return [
        (e["kind"], e["cause_kind"], e["cause_ref"])
        for e in world.rows(tables.events, tables.events.c.entity == "service")
    ]


def service_row(world, code):
    [row] = world.rows(tables.services, tables.services.c.code == code)
    return row


def test_an_operator_sets_and_ends_an_exemption_and_the_events_name_the_key(console, keys, world):
    log_in(console, keys["operator"])
    csrf = session_csrf(console, "/console/catalogue")
    done = console.post(
        f"/console/catalogue/{WEATHER}/exemption", data={"reason": " 行业卡 ", "csrf": csrf}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/catalogue?q={WEATHER}&done=set"
    assert service_row(world, WEATHER)["reminder_exempt_reason"] == "行业卡"
    shown = console.get(done.headers["location"]).text
    assert "已设为免提醒" in shown
    exempt = shown.split('id="exempt"')[1]
    assert "天气预报" in exempt and "行业卡" in exempt and "校讯通" in exempt
    ended = console.post(f"/console/catalogue/{WEATHER}/exemption/end", data={"csrf": csrf})
    assert ended.status_code == 303 and ended.headers["location"].endswith("done=ended")
    assert service_row(world, WEATHER)["reminder_exempt_reason"] is None
    assert exemption_events(world) == [
        ("exemption_set", "api", "operator"),
        ("exemption_ended", "api", "operator"),
    ]


def test_a_blank_reason_an_unknown_code_or_a_care_key_changes_no_exemption(console, keys, world):
    log_in(console, keys["operator"])
    csrf = session_csrf(console, "/console/catalogue")
    blank = console.post(
        f"/console/catalogue/{WEATHER}/exemption", data={"reason": "  ", "csrf": csrf}
    )
    assert blank.status_code == 400 and "请填写原因" in blank.text
    unknown = console.post(
        "/console/catalogue/99999999/exemption", data={"reason": "x", "csrf": csrf}
    )
    assert unknown.status_code == 404 and "没有这个业务代码" in unknown.text
    console.post("/console/logout", data={"csrf": csrf})
    log_in(console, keys["care"])
    page = console.get("/console/catalogue")
    assert page.status_code == 200 and "集团统付业务由单位确认" in page.text
    assert "/exemption" not in page.text and "只有运营角色可以修改免提醒" in page.text
    csrf = session_csrf(console, "/console/catalogue")
    refused = console.post(
        f"/console/catalogue/{WEATHER}/exemption", data={"reason": "行业卡", "csrf": csrf}
    )
    assert refused.status_code == 403 and "未做任何修改" in refused.text
    ended = console.post(f"/console/catalogue/{SCHOOL}/exemption/end", data={"csrf": csrf})
    assert ended.status_code == 403
    assert service_row(world, WEATHER)["reminder_exempt_reason"] is None
    assert service_row(world, SCHOOL)["reminder_exempt_reason"] == "集团统付业务由单位确认"
    assert exemption_events(world) == []


def services_shown(html: str) -> list[str]:
    found = html.split('id="services"')[1].split("</ul>")[0]
    return [part.split('"')[0] for part in found.split('data-code="')[1:]]


def test_services_are_searched_by_code_prefix_or_name_a_page_at_a_time(console, keys, monkeypatch):
    log_in(console, keys["care"])
    by_code = console.get("/console/catalogue", params={"q": "8010"}).text
    assert services_shown(by_code) == ["80100001", "80100002", "80100003", "80100004"]
    assert "星云信息" in by_code and "monthly" in by_code and "2.00 元" in by_code
    assert "0.50 元" in by_code and "per_use" in by_code
    assert services_shown(console.get("/console/catalogue", params={"q": "天气"}).text) == [WEATHER]
    none = console.get("/console/catalogue", params={"q": "没有这种"}).text
    assert services_shown(none) == [] and "没有符合的业务" in none
    monkeypatch.setattr(catalogue, "SHOWN", 3)
    first = console.get("/console/catalogue", params={"q": "8"}).text
    assert services_shown(first) == ["80100001", "80100002", "80100003"]
    later = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert later == "/console/catalogue?q=8&amp;exempt_after=0&amp;after=5"
    second = console.get(later.replace("&amp;", "&")).text
    assert services_shown(second) == ["80100004", "80200001", "80200002"]
    assert 'rel="next"' not in second.split('id="exempt"')[0]
