"""The phone simulator in a real browser: care texts 0000 as a generated subscriber,
reads the listing, replies 1, and sees the cancellation naming the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.domain.clock import FixedClock
from vasguard.domain.listing import number_items
from vasguard.generate.run import generate
from vasguard.services.keys import create_key
from vasguard.store import tables
from vasguard.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.xdist_group("browser")

GENERATED_AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = GENERATED_AT + timedelta(hours=1)


def holder_of_services(rt: Runtime) -> tuple[str, list[str]]:
    """A generated subscriber with at least two monthly services on their 0000 listing:
    the number and the services' names in listing order."""
    with SqlUnitOfWork(rt.engine) as uow:
        ids = uow.conn.execute(
            tables.subscribers.select()
            .with_only_columns(tables.subscribers.c.id, tables.subscribers.c.msisdn)
            .where(tables.subscribers.c.language == "zh", tables.subscribers.c.status == "active")
            .order_by(tables.subscribers.c.id)
        ).all()
        for subscriber_id, msisdn in ids:
            items = number_items(uow.subscriptions.listing_candidates(subscriber_id, NOW))
            if len(items) >= 2:
                return msisdn, [i.candidate.service_name for i in items]
    raise AssertionError("the generator made no subscriber with two monthly services")


@pytest.fixture
def platform(db_url, serve):
    rt = Runtime(Settings(database_url=db_url, scheduler=False), fixed_clock=FixedClock(NOW))
    generate(rt.engine, subscribers=80, seed=11, at=GENERATED_AT)
    key, _ = create_key(
        rt.uow(),
        rt.clock(),
        role=Role.CARE,
        name="desk-1",
        provider_code=None,
        province=None,
        created_by="tests",
    )
    return serve(rt), key


def test_care_cancels_a_service_by_sms_in_the_phone_simulator(platform, page, screenshot):
    served, key = platform
    msisdn, services = holder_of_services(served.rt)
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
    assert served.rt.transport.inbox(msisdn)[-1] == cancelled.locator(".text").inner_text()
