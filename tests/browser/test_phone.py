"""The phone simulator in a real browser: care texts 0000 as a generated subscriber,
reads the listing, replies 1, and sees the cancellation naming the service."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.xdist_group("browser")


def test_care_cancels_a_service_by_sms_in_the_phone_simulator(generated, page, screenshot):
    served, key, msisdn, services = (
        generated.served,
        generated.care_key,
        generated.msisdn,
        generated.services,
    )
    page.goto(f"{served.url}/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text("desk-1")

    page.click("text=手机模拟器 >> nth=0")
    page.fill("#msisdn", msisdn)
    page.click("text=打开")
    expect(page.locator(".screen-top")).to_contain_text(msisdn)

    page.fill("#text", "0000")
    page.click("#compose button")
    listing = page.locator(".bubble.theirs", has_text="您目前订购的包月增值业务如下")
    expect(listing).to_contain_text(f"1.{services[0]}")
    expect(listing).to_contain_text(f"2.{services[1]}")

    page.fill("#text", "1")
    page.click("#compose button")
    cancelled = page.locator(".bubble.theirs", has_text="您已成功退订")
    expect(cancelled).to_contain_text(services[0])
    screenshot("cancelled")
    # The page shows an MT once it is queued; the loopback engine hands it to the handset
    # a poll later, so wait for it there rather than race the sender.
    shown = cancelled.locator(".text").inner_text()
    for _ in range(100):
        if served.rt.transport.inbox(msisdn)[-1] == shown:
            break
        page.wait_for_timeout(50)
    assert served.rt.transport.inbox(msisdn)[-1] == shown
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot("desktop")
