"""Browser tests: the platform served for real, driven by a headless Chromium.

The app runs as ``vasguard serve`` runs it — uvicorn and the loopback SMS engine in one
event loop, here in a thread of the test process so a test can read the loopback SMSC —
on a free port of 127.0.0.1. The browser is Debian's ``chromium`` (``.ci/run`` installs
it; Playwright's own download does not work here), one per test module, a fresh context
per test. Screenshots go to ``tests/artifacts/`` (ignored by git) and their paths are
printed. Every module here marks its tests ``xdist_group("browser")``, so they share one
worker.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.loopback_engine import LoopbackEngine
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.domain.clock import FixedClock
from vasguard.domain.listing import number_items
from vasguard.generate.run import generate
from vasguard.services.keys import create_key
from vasguard.store import tables
from vasguard.store.uow import SqlUnitOfWork

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module, not per session: Playwright's sync API keeps an event loop
    running on the main thread until it stops, and a later test's ``asyncio.run`` on the
    same worker would find it running (``package`` scope is the session's here: tests/
    has no ``__init__.py``)."""
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: `apt-get install -y chromium` (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Served:
    """The running platform: its base URL and the runtime behind it."""

    url: str
    rt: Runtime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def serve() -> Iterator[Callable[[Runtime], Served]]:
    """Start the platform over a runtime: uvicorn plus the loopback SMS engine, which
    delivers what the requests queue (as in ``vasguard serve`` without an SMSC)."""
    running: list[tuple[uvicorn.Server, threading.Thread, Runtime]] = []

    def start(rt: Runtime) -> Served:
        engine = LoopbackEngine(rt.uow, rt.clock(), rt.transport, interval=0.05, owner="browser")
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(rt, engine), host="127.0.0.1", port=port, log_config=None)
        )

        async def run() -> None:
            await engine.start()
            try:
                await server.serve()
            finally:
                await engine.stop()

        thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
        thread.start()
        running.append((server, thread, rt))
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the platform did not start")
            time.sleep(0.02)
        return Served(f"http://127.0.0.1:{port}", rt)

    yield start
    for server, thread, rt in running:
        server.should_exit = True
        thread.join(timeout=30)
        rt.engine.dispose()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, page: Page) -> Callable[[str], Path]:
    """Save the page as ``tests/artifacts/<test>-<label>.png`` and print where."""

    def save(label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", f"{request.node.name}-{label}")
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return save


GENERATED_AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOW = GENERATED_AT + timedelta(hours=1)


@dataclass
class Generated:
    """A generated operator, served: a care key, and a Chinese-speaking subscriber with
    at least two monthly services on their 0000 list (names in listing order)."""

    served: Served
    care_key: str
    msisdn: str
    services: list[str]


def _holder_of_services(rt: Runtime) -> tuple[str, list[str]]:
    with SqlUnitOfWork(rt.engine) as uow:
        subscribers = uow.conn.execute(
            tables.subscribers.select()
            .with_only_columns(tables.subscribers.c.id, tables.subscribers.c.msisdn)
            .where(tables.subscribers.c.language == "zh", tables.subscribers.c.status == "active")
            .order_by(tables.subscribers.c.id)
        ).all()
        for subscriber_id, msisdn in subscribers:
            items = number_items(uow.subscriptions.listing_candidates(subscriber_id, NOW))
            if len(items) >= 2:
                return msisdn, [i.candidate.service_name for i in items]
    raise AssertionError("the generator made no subscriber with two monthly services")


@pytest.fixture
def generated(db_url: str, serve: Callable[[Runtime], Served]) -> Generated:
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
    msisdn, services = _holder_of_services(rt)
    return Generated(serve(rt), key, msisdn, services)
