"""Browser tests: the platform served for real, driven by a headless Chromium.

The app runs as ``vasguard serve`` runs it — uvicorn and the loopback SMS engine in one
event loop, here in a thread of the test process so a test can read the loopback SMSC —
on a free port of 127.0.0.1. The browser is Debian's ``chromium`` (``.ci/run`` installs
it; Playwright's own download does not work here), one per test worker, a fresh context
per test. Screenshots go to ``tests/artifacts/`` (ignored by git) and their paths are
printed. Every module here marks its tests ``xdist_group("browser")``, so they share one
worker and one Chromium.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.loopback_engine import LoopbackEngine

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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
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
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

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
        running.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the platform did not start")
            time.sleep(0.02)
        return Served(f"http://127.0.0.1:{port}", rt)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=30)


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
