"""The test SMSC (tests/peers/smsc.js, on the npm package ``smpp``) as a fixture.

Each test gets its own SMSC process on a free loopback port, stopped afterwards. Its
event record (stdout, one JSON object a line) is collected by a thread; tests wait on it
from asyncio with ``await smsc.wait(...)``, which polls and so never blocks the loop.
The async tests run with ``run`` (``asyncio.run`` under a hard timeout), so no pytest
plugin is needed.

``npm ci`` in tests/peers must have been run; a missing Node or package fails the test
rather than skipping it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from vasguard.channels.smpp import SmppConfig

PEERS = Path(__file__).resolve().parent.parent / "peers"
SCRIPT = PEERS / "smsc.js"
SYSTEM_ID = "vasguard"
PASSWORD = "secret"


class Smsc:
    """Handle on a running test SMSC: send it commands, read what it recorded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sent = 0
        self._listening = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._listening.wait(10):
            raise RuntimeError("the test SMSC did not start listening within 10 s")

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            event = json.loads(line)
            with self._lock:
                self._events.append(event)
            if event["event"] == "listening":
                self.port = event["port"]
                self._listening.set()

    def events(self, name: str | None = None, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            events = list(self._events)
        return [
            e
            for e in events
            if (name is None or e["event"] == name)
            and all(e.get(key) == value for key, value in match.items())
        ]

    def send(self, cmd: str, **fields: Any) -> int:
        """Write a command; its number, for ``acked``."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self._process.stdin.flush()
        self._sent += 1
        return self._sent

    async def do(self, cmd: str, timeout: float = 5.0, **fields: Any) -> None:
        """Send a command and wait until the SMSC carried it out."""
        number = self.send(cmd, **fields)
        await self.wait("ack", count=number, timeout=timeout)
        ack = self.events("ack")[number - 1]
        if ack.get("error"):
            raise AssertionError(f"SMSC refused {cmd}: {ack['error']}")

    async def wait(
        self, name: str, *, count: int = 1, timeout: float = 5.0, **match: Any
    ) -> list[dict[str, Any]]:
        """Until at least ``count`` events ``name`` (matching ``match``) were recorded."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(name, **match)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"SMSC recorded {len(found)} {name} {match or ''} events, wanted {count}; "
                    f"last events: {self.events()[-10:]}"
                )
            await asyncio.sleep(0.005)

    def settle(self, timeout: float = 5.0) -> None:
        """Block until every event the SMSC recorded so far has been read (a marker
        round trip: events come out in order). For assertions after ``run``."""
        number = self.send("mark", label="settle")
        deadline = time.monotonic() + timeout
        while len(self.events("ack")) < number:
            if time.monotonic() > deadline:
                raise AssertionError("the test SMSC did not answer a marker")
            time.sleep(0.002)

    def stop(self) -> None:
        if self._process.poll() is None:
            try:
                self.send("stop")
                self._process.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=3)
        self._thread.join(timeout=3)


def start_smsc(**env: str) -> Smsc:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the SMPP tests (the test SMSC runs on it)")
    if not (PEERS / "node_modules" / "smpp").is_dir():
        pytest.fail(f"the npm package smpp is not installed: run `npm ci` in {PEERS}")
    process = subprocess.Popen(
        [node, str(SCRIPT), "--port", "0", "--system-id", SYSTEM_ID, "--password", PASSWORD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PEERS,
        env={"PATH": str(Path(node).parent), **env},
    )
    try:
        return Smsc(process)
    except BaseException:
        process.kill()
        process.wait(timeout=3)
        raise


@pytest.fixture
def smsc() -> Iterator[Smsc]:
    peer = start_smsc()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def config(smsc: Smsc) -> Callable[..., SmppConfig]:
    """SmppConfig for the test SMSC with short timers; keyword arguments override."""

    def make(**overrides: Any) -> SmppConfig:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": smsc.port,
            "system_id": SYSTEM_ID,
            "password": PASSWORD,
            "system_type": "VAS",
            "window": 10,
            "enquire_link_interval": 10.0,
            "response_timeout": 1.0,
            "connect_timeout": 1.0,
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        }
        return SmppConfig(**{**settings, **overrides})

    return make


@pytest.fixture
def run() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine to completion on a fresh event loop, within 20 s."""

    def go(coroutine: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
        return asyncio.run(asyncio.wait_for(coroutine, timeout))

    return go
