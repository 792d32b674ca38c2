"""The customer's own page in a real browser: a code by SMS, log in, cancel one service;
a 0000 afterwards no longer lists it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from vasguard.services.intake import receive_mo

pytestmark = pytest.mark.xdist_group("browser")


def code_sent_to(transport, msisdn: str) -> str:
    """The code of the latest SMS the loopback SMSC delivered to ``msisdn``, once the
    running SMS engine has sent it."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for text in reversed(transport.inbox(msisdn)):
            if "验证码" in text:
                found = re.search(r"\d{6}", text)
                assert found
                return found.group(0)
        time.sleep(0.05)
    raise AssertionError(f"no code reached {msisdn}")


def test_a_customer_cancels_a_service_on_their_own_page(generated, page, screenshot):
    served, msisdn, services = generated.served, generated.msisdn, generated.services
    page.goto(f"{served.url}/my/")
    page.fill("#msisdn", msisdn)
    page.click("text=获取验证码")
    expect(page.locator(".notice")).to_contain_text("验证码已发送")

    page.fill("#code", code_sent_to(served.rt.transport, msisdn))
    page.click("button[type=submit]")
    listed = page.locator(".held .service")
    expect(listed).to_have_text(services)
    page.locator(".held li", has_text=services[0]).locator("input[type=checkbox]").check()
    screenshot("chosen")
    page.click("text=退订所选业务")
    expect(page.locator(".chosen")).to_have_text(re.compile(re.escape(services[0])))
    page.click('button:has-text("确认退订")')
    expect(page.locator(".notice")).to_contain_text(f"已退订： {services[0]}")
    screenshot("cancelled")

    rt = served.rt
    listing = receive_mo(
        rt.uow(), rt.clock(), rt.deployment, msisdn=msisdn, to="10086", text="0000"
    ).replies[0]
    items = re.findall(r"^\d+\.(\S+?)(?:\[集团\])? ", listing, flags=re.MULTILINE)
    assert items == services[1:]
