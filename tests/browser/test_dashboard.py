"""The dashboard in a real browser, on a generated operator: its four charts are drawn by
the Chart.js the package serves (no other origin asked), with the figures the job counted,
and its totals agree with a count made here from the records themselves. And a partner's
key is refused by the console's login."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.domain.clock import FixedClock
from vasguard.generate.run import generate
from vasguard.services.billing import run_bill
from vasguard.services.figures import recount_figures
from vasguard.services.keys import create_key
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("browser")

GENERATED_AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = GENERATED_AT + timedelta(hours=1)
DAYS = 365
CHARTS = ("chart-activity", "chart-reminders", "chart-money", "chart-provinces")


def test_the_dashboard_draws_its_charts_from_the_generated_operators_figures(
    db_url, serve, page, screenshot
):
    rt = Runtime(Settings(database_url=db_url, scheduler=False), fixed_clock=FixedClock(NOW))
    generate(rt.engine, subscribers=400, seed=5, at=GENERATED_AT)
    run_bill(rt.uow(), rt.clock(), rt.deployment, "2026-10", wall_clock=rt.clock())
    recount_figures(rt.uow(), rt.clock(), rt.deployment, days=DAYS)
    key, _ = create_key(
        rt.uow(),
        rt.clock(),
        role=Role.OPERATOR,
        name="ops-1",
        provider_code=None,
        province=None,
        created_by="tests",
    )
    since = NOW.replace(hour=16, minute=0) - timedelta(days=DAYS)  # local midnight, a year back
    with rt.engine.connect() as conn:
        s = tables.subscriptions.c
        ordered = conn.scalar(select(func.count()).where(s.ordered_at >= since))
        charged = conn.scalar(
            select(func.coalesce(func.sum(tables.charges.c.amount_fen), 0)).where(
                tables.charges.c.period == "2026-10"
            )
        )
    assert ordered and charged, "the generated operator should have a year of orders and a bill"

    served = serve(rt)
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(served.url) else elsewhere.append(r.url))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{served.url}/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text("ops-1")
    page.click("text=总览")
    page.goto(f"{served.url}/console/dashboard?days={DAYS}")
    expect(page.locator("h1")).to_have_text("业务总览")
    for chart in CHARTS:
        expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", re.compile(r"^[1-9]\d*$"))
    drawn = page.evaluate(
        "ids => ids.map(id => Chart.getChart(id).data.datasets.map(d => d.data))", list(CHARTS)
    )
    activity = drawn[0]
    assert sum(activity[0]) == ordered  # the orders line: every order of the year, by day
    assert sum(drawn[2][0]) == pytest.approx(charged / 100)  # the charges bars, in yuan
    expect(page.locator("[data-figure=orders]")).to_have_text(str(ordered))
    expect(page.locator("#by-province tbody tr").first).to_be_visible()
    expect(page.locator("#by-partner tbody tr").first).to_be_visible()
    whole = screenshot("dashboard")
    page.screenshot(path=str(whole.with_name(f"first-screen-{whole.name}")))  # for the README
    assert elsewhere == []

    page.click("text=合作伙伴")
    expect(page.locator("h1")).to_contain_text("合作伙伴评分卡")
    screenshot("scorecards")


def test_a_partner_key_is_refused_by_the_console(world, db_url, serve, page, screenshot):
    rt = Runtime(Settings(database_url=db_url, scheduler=False), fixed_clock=world.clock)
    key, _ = create_key(
        rt.uow(),
        rt.clock(),
        role=Role.PARTNER,
        name="xingyun",
        provider_code="801001",
        province=None,
        created_by="tests",
    )
    served = serve(rt)
    page.goto(f"{served.url}/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("合作伙伴和网关的密钥不能登录管理台")
    expect(page.locator(".who")).to_have_count(0)
    screenshot("partner-refused")
    page.goto(f"{served.url}/console/dashboard")
    expect(page).to_have_url(re.compile(r"/console/login"))
    assert world.rows(tables.console_sessions) == []
