"""The bill-run page in a real browser: a care session has no start button and a forced
POST with its CSRF token starts nothing; an operator starts November's run, watches it
finish, and reads its summary and the audit's "no violations"."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect
from test_console_billing import make_billable

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.services import bill_run_thread
from vasguard.services.billing import run_bill
from vasguard.services.keys import create_key
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("browser")

PAUSE = 1.0  # seconds after each chunk of one subscriber: a run slow enough to watch


def log_in(page: Page, url: str, key: str, name: str) -> None:
    page.goto(f"{url}/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text(name)


def test_care_cannot_start_a_bill_run_and_an_operator_watches_one_finish(
    world, db_url, serve, page, screenshot, monkeypatch
):
    make_billable(world)

    def slowly(*args, **kwargs):
        return run_bill(*args, chunk=1, progress=lambda *_: time.sleep(PAUSE), **kwargs)

    monkeypatch.setattr(bill_run_thread, "run_bill", slowly)
    rt = Runtime(Settings(database_url=db_url, scheduler=False), fixed_clock=world.clock)
    keys = {
        role: create_key(
            rt.uow(),
            rt.clock(),
            role=role,
            name=f"{role}-desk",
            provider_code=None,
            province=None,
            created_by="tests",
        )[0]
        for role in (Role.CARE, Role.OPERATOR)
    }
    served = serve(rt)

    log_in(page, served.url, keys[Role.CARE], "care-desk")
    page.click("nav.menu >> text=出账")
    expect(page.locator("h1")).to_have_text("出账批次")
    expect(page.locator("#start")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("只有运营角色可以启动出账")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    forced = page.request.post(
        f"{served.url}/console/bill-runs", form={"period": "2026-11", "csrf": csrf or ""}
    )
    assert forced.status == 403 and "未启动任何出账" in forced.text()
    assert world.rows(tables.bill_runs) == []
    screenshot("care")
    page.click("button.link")  # log out

    log_in(page, served.url, keys[Role.OPERATOR], "operator-desk")
    page.click("nav.menu >> text=出账")
    page.fill("#period", "2026-11")
    page.click("#start button")
    status = page.locator("#progress [data-field=status]")
    # The page follows the run as it goes (on SQLite too: pages read without the writer
    # lock the run holds).
    expect(status).to_have_text("出账中")
    page.evaluate("window.notReloaded = true")
    page.wait_for_function(
        "() => window.notReloaded && "
        "Number(document.querySelector('[data-field=cursor]').textContent) > 0"
    )
    screenshot("running")
    expect(status).to_have_text("已完成", timeout=30_000)
    expect(page.locator("#progress [data-field=cursor]")).to_have_text("3")
    expect(page.locator("#charged")).to_contain_text("first · 1 · 2.00 元")
    expect(page.locator("#charged")).to_contain_text("plan · 1 · 58.00 元")
    expect(page.locator("#skipped")).to_contain_text("not_confirmed · 1")
    expect(page.locator("#audit")).to_contain_text("无违规")
    screenshot("finished")
    [run] = world.rows(tables.bill_runs)
    assert run["status"] == "finished" and run["charged_fen"] == 6000
