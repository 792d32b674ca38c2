"""``vasguard serve`` as an operator runs it: a subprocess on a free port, loopback SMSC.

Each test starts the real command against its own database (both stores), talks to it
over HTTP, reads the database to see what happened, and always kills what it started.
Nothing here flushes the outbox: whatever is delivered, the process's engine delivered.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from access_keys import bearer
from conftest import ALICE, BOB, CAROL
from sqlalchemy import func, select

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.domain.clock import SystemClock
from vasguard.services.keys import create_key
from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("serve")  # two of these at once would starve the CPU

VASGUARD = Path(sys.executable).parent / "vasguard"
START_TIMEOUT = 30.0  # seconds; only reached when something is broken
WAIT = 30.0
# Inside the sending window in Shanghai, two hours after the world's orders (10:00).
CLOCK_AT = "2026-11-24T12:00:00+08:00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


class Served:
    """One ``vasguard serve`` process; ``start`` again after ``stop`` restarts it."""

    def __init__(self, db_url: str, tmp: Path, **settings: str) -> None:
        self.port = int(settings.pop("http_port", free_port()))
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VASGUARD_")}
        self.env |= {
            "VASGUARD_DATABASE_URL": db_url,
            "VASGUARD_HTTP_PORT": str(self.port),
            "VASGUARD_CLOCK_AT": CLOCK_AT,
            "VASGUARD_LOG_LEVEL": "INFO",
            **{f"VASGUARD_{k.upper()}": v for k, v in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.auth = bearer(
            create_key(
                Runtime(Settings(database_url=db_url)).uow(),
                SystemClock(),
                role=Role.GATEWAY,
                name=f"gateway-{self.port}",
                provider_code=None,
                province=None,
                created_by="tests",
            )[0]
        )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(VASGUARD), "serve"], env=self.env, cwd=self.tmp, stdout=log, stderr=log
            )
        eventually(self._up, "serve answers /health", START_TIMEOUT)

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.logs()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def terminate(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit status; the log is shown if it is not 0."""
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=WAIT)
        finally:
            self.kill()
        if status != 0:
            print(self.logs()[-5000:])
        return status

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def serve(world, db_url, tmp_path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(**settings: str) -> Served:
        served = Served(db_url, tmp_path, **settings)
        started.append(served)
        served.start()
        return served

    yield start
    for served in started:
        served.kill()


def mt_status(world, **where: object) -> list[str]:
    m = tables.messages.c
    conditions = [m.direction == "mt", *(m[k] == v for k, v in where.items())]
    with world.engine.connect() as conn:
        return list(conn.scalars(select(m.status).where(*conditions)))


def test_probes_answer_and_an_mo_is_answered_by_the_engine(serve, world):
    world.order(msisdn=BOB)
    served = serve(scheduler="false")
    assert httpx.get(f"{served.url}/health").json() == {"status": "ok"}
    eventually(lambda: httpx.get(f"{served.url}/ready").status_code == 200, "ready")
    posted = httpx.post(
        f"{served.url}/api/v1/sms/mo",
        json={"from": BOB, "text": "是", "id": "mo-1"},
        headers=served.auth,
        timeout=10,
    )
    assert posted.status_code == 200 and "成功订购" in posted.json()["replies"][0]
    mo = posted.json()["mo_id"]
    eventually(lambda: mt_status(world, in_reply_to=mo) == ["delivered"], "reply delivered")
    metrics = httpx.get(f"{served.url}/metrics").text
    assert "vasguard_mt_parts_total" in metrics and "vasguard_jobs_total" in metrics
    assert served.terminate() == 0


def test_the_scheduler_sends_a_reminder_with_no_command_typed(serve, world):
    sid = world.subscribe()  # confirmed at 10:00, not reminded
    served = serve(reminder_interval_minutes="0.05")
    eventually(
        lambda: mt_status(world, subscription_id=sid, kind="reminder") == ["delivered"],
        "the reminder delivered",
    )
    assert '"job": "reminders"' in served.logs()
    assert served.terminate(signal.SIGINT) == 0


FLOOD = 120


def test_sigterm_mid_flood_then_restart_every_mo_answered_once(serve, world):
    """MOs posted from several threads; SIGTERM lands in the middle. The process exits 0,
    the restarted one delivers what was queued, and reposting every MO (a gateway that
    did not hear back retries) answers none twice."""
    served = serve(scheduler="false")
    ids = [f"flood-{n}" for n in range(FLOOD)]
    senders = [ALICE, BOB, CAROL]
    answered: set[str] = set()
    refused: list[str] = []

    def post(n: int) -> None:
        body = {"from": senders[n % 3], "text": "0000", "id": ids[n]}
        try:
            r = httpx.post(
                f"{served.url}/api/v1/sms/mo", json=body, headers=served.auth, timeout=10
            )
        except httpx.TransportError:
            return  # the process is stopping: the gateway will retry
        if r.status_code == 200:
            answered.add(ids[n])
        else:
            refused.append(f"{ids[n]}: {r.status_code} {r.text}")

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(post, n) for n in range(FLOOD)]
        eventually(lambda: len(answered) >= FLOOD // 4, "a quarter answered")
        assert served.terminate() == 0
        for f in futures:
            f.result()
    assert refused == []
    assert 0 < len(answered) < FLOOD, "SIGTERM should have landed mid-flood"
    assert "vasguard stopped" in served.logs()

    served.start()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(post, range(FLOOD)))
    assert refused == [] and len(answered) == FLOOD

    m = tables.messages.c
    with world.engine.connect() as conn:
        mos = dict(conn.execute(select(m.smsc_message_id, m.id).where(m.direction == "mo")).all())
        replies = dict(
            conn.execute(
                select(m.in_reply_to, func.count())
                .where(m.direction == "mt", m.in_reply_to.is_not(None))
                .group_by(m.in_reply_to)
            ).all()
        )
    assert sorted(mos) == sorted(ids)
    assert {replies.get(mos[i], 0) for i in ids} == {1}, "every MO answered exactly once"

    eventually(
        lambda: set(mt_status(world)) == {"delivered"}, "every reply delivered after the restart"
    )
    assert served.terminate() == 0


def test_a_taken_port_stops_the_process_with_status_1_before_any_mo_or_job(world, db_url, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        served = Served(db_url, tmp_path, http_port=str(taken.getsockname()[1]))
        with served.log.open("wb") as log:
            done = subprocess.run(
                [str(VASGUARD), "serve"],
                env=served.env,
                cwd=tmp_path,
                stdout=log,
                stderr=log,
                timeout=WAIT,
                check=False,
            )
    assert done.returncode == 1
    logs = served.logs()
    assert "HTTP server ended; stopping" in logs and '"job":' not in logs
