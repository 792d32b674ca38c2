"""A three-shard deployment on PostgreSQL, against the same customers in one database.

Four databases of the test's own: a national one (the API keys; no customers) and three
shards holding the provinces between them, each with the catalogue (as replication puts
it there: ``tests/test_replication.py``). Six subscribers in three provinces, two per
shard, the same in a single database beside it. What must hold: an MO lands on its
sender's shard only; a bill run over the shards makes exactly the single database's
charges; a shard that fails mid-run is resumed alone; the national reports and dashboard
are the single database's.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from access_keys import KeyedClient, issue_keys
from conftest import T0, private_database, seed_world
from sqlalchemy import Engine, delete, select
from typer.testing import CliRunner

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.channels.sms.engine import EngineGroup
from vasguard.cli.main import app as cli
from vasguard.config import Settings
from vasguard.domain.clock import FixedClock
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.figures import Days
from vasguard.domain.msisdn import load_provinces, load_segments
from vasguard.domain.shards import ID_RANGE
from vasguard.domain.subscription import Channel
from vasguard.services import national
from vasguard.services.intake import IncomingMo, receive_mo, receive_routed
from vasguard.services.orders import place_order
from vasguard.store import tables
from vasguard.store.bill_runs import BillRunRepository
from vasguard.store.relocation import claim_id_range

pytestmark = pytest.mark.xdist_group("sharded")

SHARDS = ("east", "north", "west")
PROVINCES = ("31", "11", "51")  # Shanghai, Beijing, Sichuan: one per shard
REMINDED = "2026-11-24T10:30:00"
AT = "2026-11-25T11:00:00"  # a day after the reminders: the first month is due


def _numbers() -> dict[str, list[str]]:
    """Two numbers of each of PROVINCES, from the operator's own segments."""
    segments = load_segments()
    found: dict[str, list[str]] = {p: [] for p in PROVINCES}
    for r in segments.ranges:
        if r.province in found and len(found[r.province]) < 2:
            found[r.province].append(f"{r.first}0001")
            if len(found[r.province]) < 2:
                found[r.province].append(f"{r.first}0002")
    return found


NUMBERS = _numbers()
EVERY = [n for p in PROVINCES for n in NUMBERS[p]]


def _shard_map(urls: dict[str, str]) -> list[dict[str, object]]:
    others = sorted({p.code for p in load_provinces()} - set(PROVINCES))
    held: dict[str, list[str]] = {s: [p] for s, p in zip(SHARDS, PROVINCES, strict=True)}
    for n, code in enumerate(others):
        held[SHARDS[n % 3]].append(code)
    return [{"name": s, "url": urls[s], "provinces": held[s]} for s in SHARDS]


def _seed(engine: Engine, numbers: list[str]) -> None:
    """The world's catalogue, and ``numbers`` as the only subscribers."""
    seed_world(engine)
    with engine.begin() as conn:
        conn.execute(delete(tables.subscriber_plans))
        conn.execute(delete(tables.subscribers))
        segments = load_segments()
        conn.execute(
            tables.subscribers.insert(),
            [
                {
                    "msisdn": n,
                    "province": segments.province_of(n),
                    "language": "zh",
                    "status": "active",
                    "created_at": T0,
                }
                for n in numbers
            ],
        )


@dataclass
class Deployment:
    sharded: Runtime
    single: Runtime
    shards: dict[str, Engine]
    env: dict[str, str]

    def both(self) -> list[Runtime]:
        return [self.sharded, self.single]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    with (
        private_database("postgresql", "national", tmp_path) as nat,
        private_database("postgresql", "east", tmp_path) as east,
        private_database("postgresql", "north", tmp_path) as north,
        private_database("postgresql", "west", tmp_path) as west,
        private_database("postgresql", "single", tmp_path) as single,
    ):
        engines = {"east": east, "north": north, "west": west}
        urls = {n: e.url.render_as_string(hide_password=False) for n, e in engines.items()}
        for number, (name, province) in enumerate(zip(SHARDS, PROVINCES, strict=True), 1):
            with engines[name].begin() as conn:
                claim_id_range(conn, number)  # as ``vasguard shards setup`` does
            _seed(engines[name], NUMBERS[province])
        _seed(single, EVERY)
        seed_world(nat)  # the catalogue's home; the world's own subscribers never write
        with nat.begin() as conn:
            conn.execute(delete(tables.subscriber_plans))
            conn.execute(delete(tables.subscribers))
        shards_json = json.dumps(_shard_map(urls))
        nat_url = nat.url.render_as_string(hide_password=False)
        clock = FixedClock(T0)
        sharded = Runtime(
            Settings(database_url=nat_url, shards=shards_json, scheduler=False), fixed_clock=clock
        )
        alone = Runtime(
            Settings(
                database_url=single.url.render_as_string(hide_password=False), scheduler=False
            ),
            fixed_clock=clock,
        )
        env = {"VASGUARD_DATABASE_URL": nat_url, "VASGUARD_SHARDS": shards_json}
        yield Deployment(sharded, alone, engines, env)
        sharded.dispose()
        alone.dispose()


def _order_and_confirm(rt: Runtime, msisdn: str, service: str = "80100001") -> None:
    placed = place_order(
        rt.uow_for(msisdn),
        rt.clock(),
        rt.deployment,
        msisdn=msisdn,
        service_code=service,
        channel=Channel.PARTNER,
        cause=Cause(CauseKind.API, "test"),
    )
    receive_mo(
        rt.uow_for(msisdn),
        rt.clock(),
        rt.deployment,
        msisdn=msisdn,
        to="10086",
        text=f"是{placed.code}",
    )


def _customers(d: Deployment) -> None:
    """Every number orders WEATHER and confirms; the first of each province also NEWS;
    the reminder job (over the shards, and in the single database) reminds them all."""
    for rt in d.both():
        for province in PROVINCES:
            first, second = NUMBERS[province]
            _order_and_confirm(rt, first)
            _order_and_confirm(rt, first, "90000001")
            _order_and_confirm(rt, second)
    for env in (d.env, {"VASGUARD_DATABASE_URL": d.single.settings.database_url}):
        reminded = _run(env, "jobs", "reminders", "--at", REMINDED, "--json")
        assert reminded.exit_code == 0, reminded.output


def _rows(engine: Engine, table, *columns) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).select_from(table))]


def _charges(engines: list[Engine]) -> list[tuple]:
    c, s, sv = tables.charges.c, tables.subscribers.c, tables.services.c
    join = (
        tables.charges.join(tables.subscribers, s.id == c.subscriber_id)
        .outerjoin(tables.subscriptions, tables.subscriptions.c.id == c.subscription_id)
        .outerjoin(tables.services, sv.id == tables.subscriptions.c.service_id)
    )
    found: list[tuple] = []
    for engine in engines:
        found += _rows(engine, join, s.msisdn, sv.code, c.period, c.kind, c.amount_fen)
    return sorted(found, key=repr)


def _run(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def test_mos_land_on_their_senders_shard_and_only_there(deployment):
    d = deployment
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "31")) as client:
        answer = client.post(
            "/api/v1/sms/mo-batch",
            json={"messages": [{"from": n, "text": "0000"} for n in EVERY]},
        )
        assert answer.status_code == 200, answer.text
        assert all(r["mo_id"] for r in answer.json()["results"])
        one = client.post("/api/v1/sms/mo", json={"from": NUMBERS["51"][0], "text": "0000"})
        assert one.status_code == 200
    m = tables.messages.c
    for name, province in zip(SHARDS, PROVINCES, strict=True):
        senders = sorted({r[0] for r in _rows(d.shards[name], tables.messages, m.msisdn)})
        assert senders == sorted(NUMBERS[province]), name
    assert _rows(d.sharded.engine, tables.messages, m.id) == []  # the national holds none


def test_a_bill_run_over_the_shards_makes_the_single_databases_charges(deployment):
    d = deployment
    _customers(d)
    sharded = _run(d.env, "jobs", "bill", "--period", "2026-11", "--at", AT, "--json")
    assert sharded.exit_code == 0, sharded.output
    lines = json.loads(sharded.stdout)["shards"]
    assert [(line["shard"], line["ok"], line["charged"]) for line in lines] == [
        ("east", True, 3),
        ("north", True, 3),
        ("west", True, 3),
    ]
    single_env = {"VASGUARD_DATABASE_URL": d.single.settings.database_url}
    alone = _run(single_env, "jobs", "bill", "--period", "2026-11", "--at", AT, "--json")
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout)["charged"] == {"first": 9}
    by_shards = _charges(list(d.shards.values()))
    assert len(by_shards) == 9 and by_shards == _charges([d.single.engine])
    audit = _run(d.env, "audit", "--period", "2026-11", "--json")
    assert audit.exit_code == 0, audit.output
    assert [line["violations"] for line in json.loads(audit.stdout)["shards"]] == [0, 0, 0]


def test_a_shard_that_fails_mid_run_is_resumed_alone(deployment, monkeypatch):
    d = deployment
    _customers(d)
    north = d.shards["north"].url.database
    charge_chunk = BillRunRepository.charge_chunk
    calls = {"north": 0}

    def breaks_on_north(self, run, lo, hi):  # the north shard's database goes away mid-run
        if self._conn.engine.url.database == north:
            calls["north"] += 1
            if calls["north"] == 2:
                raise ConnectionError("north shard lost")
        return charge_chunk(self, run, lo, hi)

    monkeypatch.setattr(BillRunRepository, "charge_chunk", breaks_on_north)
    first = _run(d.env, "jobs", "bill", "--period", "2026-11", "--at", AT, "--chunk", "1", "--json")
    assert first.exit_code == 1
    lines = {line["shard"]: line for line in json.loads(first.stdout)["shards"]}
    assert lines["east"]["ok"] and lines["west"]["ok"]
    assert not lines["north"]["ok"] and "north shard lost" in lines["north"]["error"]
    status = tables.bill_runs.c.status
    assert _rows(d.shards["north"], tables.bill_runs, status) == [("running",)]
    assert [r for r in _rows(d.shards["east"], tables.bill_runs, status)] == [("finished",)]

    monkeypatch.setattr(BillRunRepository, "charge_chunk", charge_chunk)
    again = _run(d.env, "jobs", "bill", "--period", "2026-11", "--at", AT, "--chunk", "1", "--json")
    assert again.exit_code == 0, again.output
    lines = {line["shard"]: line for line in json.loads(again.stdout)["shards"]}
    [north_run] = _rows(d.shards["north"], tables.bill_runs, tables.bill_runs.c.id)
    assert lines["north"]["resumed"] is True and lines["north"]["run"] == north_run[0]
    assert north_run[0] // ID_RANGE == 2  # the north shard's range: its run's id names it
    assert (lines["east"]["charged"], lines["west"]["charged"]) == (0, 0)  # nothing twice
    assert (
        _run(
            {"VASGUARD_DATABASE_URL": d.single.settings.database_url},
            "jobs",
            "bill",
            "--period",
            "2026-11",
            "--at",
            AT,
        ).exit_code
        == 0
    )
    assert _charges(list(d.shards.values())) == _charges([d.single.engine])


def test_the_national_reports_and_dashboard_are_the_single_databases(deployment):
    d = deployment
    _customers(d)
    for env in (d.env, {"VASGUARD_DATABASE_URL": d.single.settings.database_url}):
        assert _run(env, "jobs", "bill", "--period", "2026-11", "--at", AT).exit_code == 0
        assert _run(env, "jobs", "figures", "--at", AT, "--days", "2").exit_code == 0
    answers = []
    for rt in d.both():
        with KeyedClient(create_app(rt), issue_keys(rt, "31")) as client:
            answers.append(
                [
                    client.get(f"/api/v1/reports/{kind}", params={"period": "2026-11"}).json()
                    for kind in ("provinces", "partners")
                ]
            )
    assert answers[0] == answers[1]
    provinces = {line["code"]: line for line in answers[0][0]["lines"]}
    assert sorted(provinces) == sorted(PROVINCES) and provinces["31"]["charges"] == 3
    days = Days.ending(d.single.clock().now() + timedelta(days=1), "Asia/Shanghai", 3)
    boards = [
        national.dashboard(d.sharded.shard_readers(), days),
        national.dashboard(d.single.shard_readers(), days),
    ]
    assert boards[0].total == boards[1].total and boards[0].by_day == boards[1].by_day
    assert boards[0].by_province == boards[1].by_province
    assert boards[0].by_provider == boards[1].by_provider
    assert boards[0].total.counts


def _mt_states(engine: Engine) -> list[str]:
    m = tables.messages.c
    with engine.connect() as conn:
        return list(conn.scalars(select(m.status).where(m.direction == "mt")))


def test_serve_sends_every_shards_replies_with_an_engine_each(deployment):
    d = deployment
    engine = d.sharded.sms_engine()
    assert isinstance(engine, EngineGroup)
    mos = [IncomingMo(n, "10086", "0000") for n in EVERY]

    def all_sent() -> bool:
        states = [_mt_states(d.shards[name]) for name in SHARDS]
        return all(len(s) == 2 and set(s) <= {"sent", "delivered"} for s in states)

    async def dialogue() -> None:
        await engine.start()
        try:
            results = receive_routed(d.sharded, d.sharded.clock(), d.sharded.deployment, mos)
            assert all(not isinstance(r, Exception) for r in results)
            deadline = time.monotonic() + 20
            while not all_sent() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await engine.stop()

    asyncio.run(dialogue())
    assert all_sent(), [_mt_states(d.shards[name]) for name in SHARDS]


def test_the_apis_subscriber_routes_work_on_the_subscribers_shard(deployment):
    d = deployment
    north = NUMBERS["11"][0]
    with KeyedClient(create_app(d.sharded), issue_keys(d.sharded, "31")) as client:
        placed = client.post("/api/v1/orders", json={"msisdn": north, "service": "80100001"})
        assert placed.status_code == 201, placed.text
        timeline = client.get(f"/api/v1/subscribers/{north}/timeline")
        assert timeline.status_code == 200 and timeline.json()["items"], timeline.text
        assert client.get(f"/api/v1/subscribers/{north}").status_code == 200
        assert client.get(f"/api/v1/subscribers/{north}/messages").status_code == 200
        subscriptions = client.get(f"/api/v1/subscribers/{north}/subscriptions").json()["items"]
        assert len(subscriptions) == 1
        cancelled = client.post(f"/api/v1/subscribers/{north}/cancellations", json={"all": True})
        assert cancelled.status_code == 200, cancelled.text
    s = tables.subscriptions.c
    assert len(_rows(d.shards["north"], tables.subscriptions, s.id)) == 1
    assert _rows(d.shards["east"], tables.subscriptions, s.id) == []
    assert _rows(d.sharded.engine, tables.subscriptions, s.id) == []
