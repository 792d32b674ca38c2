"""A bill run killed with SIGKILL at random points, then resumed, charges exactly what an
uninterrupted run charges: on SQLite and PostgreSQL, with the CLI in its own process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, delete, select

from vasguard.generate import generate
from vasguard.services.audit import audit_period
from vasguard.services.deployment import Deployment
from vasguard.store import tables
from vasguard.store.uow import UnitOfWork

AT = datetime(2026, 11, 24, 2, tzinfo=UTC)
VASGUARD = str(Path(sys.executable).parent / "vasguard")
BILL = ["jobs", "bill", "--period", "2026-11", "--at", "2026-11-24T10:00:00"]
C = tables.charges


def bill(db_url: str, chunk: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"VASGUARD_DATABASE_URL": db_url}
    return subprocess.Popen(
        [VASGUARD, *BILL, "--chunk", str(chunk), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def ledger(engine: Engine) -> set[tuple]:
    """The charges, without the ids that differ between two runs."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(
                    C.c.subscription_id,
                    C.c.subscriber_plan_id,
                    C.c.period,
                    C.c.kind,
                    C.c.amount_fen,
                    C.c.confirmation_mo_id,
                    C.c.reminder_mt_id,
                    C.c.reminder_status,
                    C.c.created_at,
                )
            ).all()
        )


def cursor_of_running(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(tables.bill_runs.c.cursor).where(tables.bill_runs.c.status == "running")
        )


def test_killed_bill_runs_resume_to_the_uninterrupted_charges(engine, db_url):
    generate(engine, subscribers=2000, seed=11, at=AT)
    assert bill(db_url, 5000).wait(timeout=120) == 0
    reference = ledger(engine)
    kinds = {row[3] for row in reference}
    assert kinds == {"first", "renewal", "plan"} and len(reference) > 2000

    with engine.begin() as conn:
        conn.execute(delete(C))
        conn.execute(delete(tables.bill_runs))

    rng = random.Random(db_url)
    killed_mid_run = 0
    for _ in range(3):
        process = bill(db_url, 25)
        deadline = time.monotonic() + 60
        while process.poll() is None and not cursor_of_running(engine):
            assert time.monotonic() < deadline, "the bill run never got going"
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.wait(timeout=60)
    assert killed_mid_run >= 2
    partial = ledger(engine)
    assert 0 < len(partial) < len(reference) or killed_mid_run < 3

    finish = bill(db_url, 25)
    assert finish.wait(timeout=120) == 0
    assert ledger(engine) == reference
    with engine.connect() as conn:
        runs = conn.execute(select(tables.bill_runs)).all()
    assert [r.status for r in runs] == ["finished"]
    assert runs[0].charged_count == len(reference)
    report = audit_period(UnitOfWork(engine), Deployment(), "2026-11")
    assert report.passed, report.violations[:5]
