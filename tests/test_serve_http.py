"""The probes ``serve`` answers: /health (liveness), /ready (database and engine), /metrics."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.metrics import JOBS
from vasguard.config import Settings
from vasguard.store import tables


class FakeEngine:
    """An SMS engine that is as ready as the test says."""

    def __init__(self, ready: bool) -> None:
        self.is_ready = ready

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def ready(self) -> bool:
        return self.is_ready


@pytest.fixture
def rt(db_url):
    return Runtime(Settings(database_url=db_url))


def probe(rt, engine, path):
    with TestClient(create_app(rt, engine)) as client:
        return client.get(path)


def test_ready_when_the_database_answers_and_the_engine_is_ready(rt):
    response = probe(rt, FakeEngine(True), "/ready")
    assert response.status_code == 200 and response.json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("engine", "reason"),
    [(FakeEngine(False), "SMS engine is not ready"), (None, "no SMS engine runs")],
)
def test_not_ready_is_a_503_problem_saying_why(rt, engine, reason):
    response = probe(rt, engine, "/ready")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert reason in response.json()["detail"]


def test_not_ready_when_the_database_does_not_answer(tmp_path):
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    response = probe(rt, FakeEngine(True), "/ready")
    assert response.status_code == 503 and "database does not answer" in response.json()["detail"]


def test_health_needs_no_database(tmp_path):
    rt = Runtime(Settings(database_url=f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    assert probe(rt, FakeEngine(False), "/health").json() == {"status": "ok"}


def test_metrics_are_the_prometheus_text_format(rt):
    JOBS.labels("reminders", "ok").inc()
    response = probe(rt, FakeEngine(True), "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    body = response.text
    assert "# TYPE vasguard_jobs_total counter" in body
    assert 'vasguard_jobs_total{job="reminders",result="ok"}' in body
    assert "vasguard_outbox_depth" in body and "vasguard_smpp_binds_up" in body


def test_a_one_shot_flush_goes_through_the_loopback_only_when_no_smsc_is_configured(world, db_url):
    """With an SMSC configured, the MTs are the SMPP engine's: a CLI command's flush through
    the loopback would mark them delivered though no handset got them."""
    world.order()
    with_smsc = Settings(database_url=db_url, smpp_host="smsc.example", smpp_system_id="vas")
    assert Runtime(with_smsc).deliver(world.clock) == 0
    [queued] = world.rows(tables.messages)
    assert queued["status"] == "queued"
    assert Runtime(Settings(database_url=db_url)).deliver(world.clock) == 1
    [sent] = world.rows(tables.messages)
    assert sent["status"] == "delivered"
