"""A charge's evidence chain in a real browser: care opens a charged subscription's
charge from the subscriber page, reads every link, refunds it with a reason, and the
refund joins the chain."""

from __future__ import annotations

import pytest
from conftest import BOB
from playwright.sync_api import expect
from test_console import charged

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.services.keys import create_key
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("browser")


def test_a_charges_evidence_chain_shows_every_link_and_a_refund_joins_it(
    world, db_url, serve, page, screenshot
):
    charge_id = charged(world)
    rt = Runtime(Settings(database_url=db_url, scheduler=False), fixed_clock=world.clock)
    key, _ = create_key(
        rt.uow(),
        rt.clock(),
        role=Role.CARE,
        name="desk-2",
        provider_code=None,
        province=None,
        created_by="tests",
    )
    served = serve(rt)
    page.goto(f"{served.url}/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text("desk-2")

    page.click("text=用户查询")
    page.fill("#msisdn", f"+86{BOB}")
    page.click("main form button")
    expect(page.locator("h1")).to_have_text(BOB)
    page.click(f"a[href='/console/charges/{charge_id}']")

    chain = page.locator("#chain")
    for title in (
        "订购",
        "二次确认短信",
        "用户确认回复",
        "扣费提醒短信",
        "提醒送达回执",
        "出账批次",
    ):
        expect(chain.locator("li", has_text=title).first).to_be_visible()
    expect(chain.locator(".link-order")).to_contain_text("天气预报")
    expect(chain.locator(".link-confirmation")).to_contain_text("是")
    expect(chain.locator(".link-receipt")).to_contain_text("delivered")
    expect(chain.locator(".link-charge")).to_contain_text(f"#{charge_id}")
    expect(chain.locator(".link-refund")).to_have_count(0)

    page.fill("#reason", "用户称未收到扣费提醒")
    page.click("#refund button")
    expect(chain.locator(".link-refund")).to_contain_text("200 fen")
    expect(page.locator("#refund")).to_have_count(0)
    screenshot("refunded")
    [refund] = world.rows(tables.refunds)
    assert refund["charge_id"] == charge_id
