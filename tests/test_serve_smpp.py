"""``vasguard serve`` against an SMSC this project did not write (tests/peers/smsc.js, on
the npm package ``smpp``): configured by environment variables alone, it binds, takes an
MO over SMPP, answers it over SMPP, applies the receipt, and unbinds on SIGTERM.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BOB, HOME
from sqlalchemy import func, select
from test_serve import Served, eventually, mt_status

from vasguard.store import tables

pytestmark = pytest.mark.xdist_group("serve")

PEERS = Path(__file__).resolve().parent / "peers"
PASSWORD = "secret"


class Peer:
    """The test SMSC as a process: commands on stdin, its record of events from stdout."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (PEERS / "node_modules" / "smpp").is_dir():
            pytest.fail(f"Node.js and `npm ci` in {PEERS} are needed for the test SMSC")
        self.process = subprocess.Popen(
            [node, str(PEERS / "smsc.js"), "--port", "0", "--password", PASSWORD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=PEERS,
        )
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        eventually(lambda: bool(self.recorded("listening")), "the SMSC listens", 10)
        self.port = int(self.recorded("listening")[0]["port"])

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.events.append(json.loads(line))

    def recorded(self, name: str, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e
                for e in self.events
                if e["event"] == name and all(e.get(k) == v for k, v in match.items())
            ]

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture
def peer():
    smsc = Peer()
    yield smsc
    smsc.stop()


def test_an_mo_over_smpp_is_answered_over_smpp_and_the_receipt_applied(
    world, db_url, tmp_path, peer
):
    placed = world.order(msisdn=BOB)
    served = smpp_served(db_url, tmp_path, peer, smpp_binds="2")
    try:
        served.start()
        eventually(lambda: len(peer.recorded("bind", status=0)) == 2, "two binds")
        eventually(lambda: httpx.get(f"{served.url}/ready").status_code == 200, "ready")
        # the confirmation request the order queued goes out over SMPP
        eventually(lambda: mt_status(world, kind="confirmation_request") == ["delivered"], "sent")
        peer.send(
            "deliver",
            messages=[
                {"mo": "yes", "source": BOB, "destination": "10086", "text": "是", "data_coding": 8}
            ],
        )
        eventually(lambda: peer.recorded("deliver_sm_resp", mo="yes", status=0), "MO taken")
        eventually(
            lambda: any("成功订购" in s.get("text", "") for s in peer.recorded("submit_sm")),
            "the reply submitted",
        )
        [sub] = world.rows(
            tables.subscriptions, tables.subscriptions.c.id == placed.subscription_id
        )
        assert sub["state"] == "active"
        eventually(lambda: set(mt_status(world)) == {"delivered"}, "receipts applied")
        assert "vasguard_smpp_binds_up 2.0" in httpx.get(f"{served.url}/metrics").text
        assert served.terminate() == 0
        assert len(peer.recorded("unbind")) == 2, "each bind unbound on SIGTERM"
        assert PASSWORD not in served.logs()
    finally:
        served.kill()


CUSTOMERS = [f"138000{n:05d}" for n in range(100, 250)]  # 150 numbers of Alice's segment


def add_customers(world) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            tables.subscribers.insert(),
            [
                {
                    "id": 100 + n,
                    "msisdn": msisdn,
                    "province": HOME,
                    "language": "zh",
                    "status": "active",
                    "created_at": world.clock.now(),
                }
                for n, msisdn in enumerate(CUSTOMERS)
            ],
        )


def smpp_served(db_url: str, tmp_path: Path, peer: Peer, **settings: str) -> Served:
    """``serve`` bound to the test SMSC, with no scheduler; ``settings`` add or override."""
    return Served(
        db_url,
        tmp_path,
        scheduler="false",
        smpp_host="127.0.0.1",
        smpp_port=str(peer.port),
        smpp_system_id="vasguard",
        smpp_password=PASSWORD,
        smpp_response_timeout_seconds="2",
        smpp_reconnect_min_seconds="0.05",
        smpp_reconnect_max_seconds="0.2",
        **settings,
    )


def test_sigterm_mid_flood_over_smpp_then_restart_every_mo_answered_once(
    world, db_url, tmp_path, peer
):
    """The SMSC sends MOs in batches while SIGTERM lands. The process unbinds and exits 0;
    MOs it received but did not acknowledge the SMSC redelivers to the restarted process,
    and batches the SMSC could not send (no bind) are sent to it again: every MO is
    stored once and answered once, and every answer is delivered."""
    add_customers(world)
    mos = [
        {"mo": f"m{n}", "source": msisdn, "destination": "10086", "text": "0000"}
        for n, msisdn in enumerate(CUSTOMERS)
    ]
    batches = [mos[i : i + 10] for i in range(0, len(mos), 10)]
    terminating = threading.Event()

    def flood() -> None:
        # Three batches first; the next ones arrive while SIGTERM lands, and the last ones
        # only after the unbind (they find no bind), so however slow the machine is, the
        # signal falls mid-flood.
        for n, batch in enumerate(batches):
            if n == 3:
                terminating.wait(timeout=60)
            if n == 6:
                eventually(lambda: peer.recorded("unbind"), "unbound")
            peer.send("deliver", messages=batch)
            time.sleep(0.05)

    def acknowledged() -> set[str]:
        return {e["mo"] for e in peer.recorded("deliver_sm_resp", status=0)}

    served = smpp_served(db_url, tmp_path, peer)
    try:
        served.start()
        eventually(lambda: peer.recorded("bind", status=0), "bound")
        feeder = threading.Thread(target=flood)
        feeder.start()
        eventually(lambda: len(acknowledged()) >= 20, "some MOs taken")
        terminating.set()
        assert served.terminate() == 0
        feeder.join(timeout=30)
        assert peer.recorded("unbind"), "unbound on SIGTERM"
        assert len(acknowledged()) < len(mos), "SIGTERM should have landed mid-flood"

        served.start()
        eventually(lambda: len(peer.recorded("bind", status=0)) >= 2, "bound again")
        reached = {e["mo"] for e in peer.recorded("deliver_sm_sent")}
        for batch in batches:  # what never reached the process (the SMSC redelivers the rest)
            if batch[0]["mo"] not in reached:
                peer.send("deliver", messages=batch)
        eventually(lambda: acknowledged() == {mo["mo"] for mo in mos}, "every MO acknowledged")
        eventually(
            lambda: len(mt_status(world)) == len(mos) and set(mt_status(world)) == {"delivered"},
            "every answer delivered",
        )
        m = tables.messages.c
        with world.engine.connect() as conn:
            senders = conn.execute(
                select(m.msisdn, func.count()).where(m.direction == "mo").group_by(m.msisdn)
            ).all()
            answers = conn.execute(
                select(m.in_reply_to, func.count())
                .where(m.direction == "mt")
                .group_by(m.in_reply_to)
            ).all()
        assert sorted(s for s, _ in senders) == sorted(CUSTOMERS)
        assert {n for _, n in senders} == {1}, "every MO stored once"
        assert {n for _, n in answers} == {1} and len(answers) == len(mos)
        assert served.terminate() == 0
    finally:
        served.kill()
