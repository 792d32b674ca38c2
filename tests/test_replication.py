"""The catalogue reaching every shard by logical replication, on a PostgreSQL of its own.

The suite's server runs at the default ``wal_level = replica``, so this module creates a
cluster with ``wal_level = logical`` on a free port (``pg_createcluster``), a national
database and three shards in it, and drops the cluster when the session ends, whatever
the tests did. All four databases share the cluster: the case where CREATE SUBSCRIPTION
would hang if it made its own slot.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from conftest import T0, seed_world
from sqlalchemy import Engine, select, text, update
from typer.testing import CliRunner, Result

from vasguard.cli.main import app
from vasguard.domain.access import Principal, Role
from vasguard.domain.clock import FixedClock
from vasguard.domain.shards import Shard, ShardMap, province_codes
from vasguard.services.catalogue import set_exemption
from vasguard.store import tables
from vasguard.store.engine import open_engine
from vasguard.store.migrate import check_schema, upgrade
from vasguard.store.replication import (
    PUBLICATION,
    ReplicationRefused,
    SubscriptionState,
    publish_catalogue,
    replication_status,
    subscribe_catalogue,
    subscription_name,
    unsubscribe_catalogue,
)
from vasguard.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.xdist_group("replication")  # one cluster, one worker

PG_VERSION = "15"
TIMEOUT = 20.0
PROVINCES = sorted(province_codes())
SPLIT = {"east": PROVINCES[:10], "west": PROVINCES[10:20], "north": PROVINCES[20:]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _drop_cluster(name: str) -> None:
    subprocess.run(["pg_dropcluster", PG_VERSION, name, "--stop"], capture_output=True, check=False)


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """The admin URL of a fresh cluster with ``wal_level = logical``; a machine that
    cannot make one fails the run (CI runs on this kind of machine), it never skips."""
    if shutil.which("pg_createcluster") is None:
        pytest.fail(
            "replication tests need pg_createcluster (Debian's postgresql-common with "
            f"PostgreSQL {PG_VERSION}) to create a cluster with wal_level = logical"
        )
    port = _free_port()
    name = f"vgtest_repl_{port}"
    options = [
        "wal_level=logical",
        "max_replication_slots=20",
        "max_wal_senders=20",
        "max_logical_replication_workers=12",
        "max_worker_processes=24",
        "shared_buffers=32MB",
    ]
    create = ["pg_createcluster", PG_VERSION, name, "-p", str(port), "--start-conf=manual"]
    create += [arg for option in options for arg in ("-o", option)]
    try:
        subprocess.run([*create, "--", "--auth=trust"], capture_output=True, check=True)
        subprocess.run(
            ["pg_ctlcluster", PG_VERSION, name, "start"], capture_output=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as failed:
        _drop_cluster(name)
        said = getattr(failed, "stderr", b"") or b""
        pytest.fail(f"cannot create the PostgreSQL test cluster {name}: {failed} {said.decode()}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _drop_cluster(name)


def _create_database(admin_url: str, name: str) -> str:
    admin = open_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@dataclass
class Replicated:
    national: Engine
    shards: dict[str, Engine]
    shard_map: ShardMap
    env: dict[str, str]
    setup: Result

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=env or self.env)


def _shards_env(national_url: str, urls: dict[str, str]) -> dict[str, str]:
    entries = [{"name": n, "url": u, "provinces": SPLIT[n]} for n, u in urls.items()]
    return {"VASGUARD_DATABASE_URL": national_url, "VASGUARD_SHARDS": json.dumps(entries)}


@pytest.fixture(scope="session")
def replicated(cluster: str) -> Iterator[Replicated]:
    """A national database with the test world's catalogue, three empty shards, and
    ``vasguard shards setup`` run over them."""
    national_url = _create_database(cluster, "vg_national")
    national = open_engine(national_url)
    upgrade(national)
    seed_world(national)
    urls = {name: _create_database(cluster, f"vg_{name}") for name in SPLIT}
    env = _shards_env(national_url, urls)
    shards = {name: open_engine(url) for name, url in urls.items()}
    shard_map = ShardMap.parse(json.loads(env["VASGUARD_SHARDS"]))
    setup = CliRunner().invoke(app, ["shards", "setup"], env=env)
    try:
        yield Replicated(national, shards, shard_map, env, setup)
    finally:
        for engine in [national, *shards.values()]:
            engine.dispose()


def eventually(what: str, check: Callable[[], bool]) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``TIMEOUT`` seconds."""
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {TIMEOUT:.0f} s")
        time.sleep(0.1)


def _service(engine: Engine, code: str) -> tuple[int, str | None] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(tables.services.c.price_fen, tables.services.c.reminder_exempt_reason).where(
                tables.services.c.code == code
            )
        ).first()
    return None if row is None else (row.price_fen, row.reminder_exempt_reason)


def _everywhere(r: Replicated, code: str, expected: tuple[int, str | None]) -> bool:
    return all(_service(shard, code) == expected for shard in r.shards.values())


def test_setup_migrates_every_shard_publishes_and_subscribes(replicated):
    assert replicated.setup.exit_code == 0, replicated.setup.output
    lines = replicated.setup.stdout.splitlines()
    assert [line for line in lines if "schema up to date" in line] == [
        f"shard {name}: schema up to date" for name in SPLIT
    ]
    assert [line for line in lines if "ids from" in line] == [
        f"shard {name}: ids from {k * 10**14}" for k, name in enumerate(SPLIT, 1)
    ]
    assert f"national: {PUBLICATION} published (5 tables)" in lines
    assert [line.rsplit(": ", 1)[1] for line in lines if "subscribed" in line] == ["subscribed"] * 3
    for engine in replicated.shards.values():
        check_schema(engine)

    def copied(table: str) -> bool:
        counts = set()
        for engine in [replicated.national, *replicated.shards.values()]:
            with engine.connect() as conn:
                counts.add(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        return len(counts) == 1

    for table in ("provinces", "providers", "services", "plans", "plan_services"):
        eventually(f"the first copy of {table} on every shard", lambda t=table: copied(t))


def test_setup_run_again_changes_nothing(replicated):
    again = replicated.cli("shards", "setup")
    assert again.exit_code == 0, again.output
    assert f"national: {PUBLICATION} already published (5 tables)" in again.stdout
    assert again.stdout.count("already subscribed") == 3
    assert again.stdout.count("(already)") == 3  # the id ranges too


def test_a_service_added_nationally_appears_on_every_shard(replicated):
    with replicated.national.begin() as conn:
        conn.execute(
            tables.services.insert().values(
                id=99,  # the world's rows were given ids, so its sequence stands at 1
                code="80100099",
                name="新业务",
                provider_id=2,
                category="news",
                billing_mode="monthly",
                price_fen=800,
                group_service=False,
                group_paid=False,
            )
        )
    eventually(
        "the new service on every shard", lambda: _everywhere(replicated, "80100099", (800, None))
    )


def test_a_price_change_reaches_every_shard(replicated):
    with replicated.national.begin() as conn:
        conn.execute(
            update(tables.services).where(tables.services.c.code == "80100002").values(price_fen=70)
        )
    eventually(
        "the new price on every shard", lambda: _everywhere(replicated, "80100002", (70, None))
    )


def test_an_exemption_set_once_is_seen_in_every_province(replicated):
    operator = Principal(0, "ops-li", Role.OPERATOR)
    set_exemption(
        SqlUnitOfWork(replicated.national),
        FixedClock(T0),
        code="80100001",
        reason="集团统付",
        principal=operator,
    )
    eventually(
        "the exemption on every shard",
        lambda: _everywhere(replicated, "80100001", (200, "集团统付")),
    )


def _all_streaming(r: Replicated) -> bool:
    states = {row.state for row in replication_status(r.national, r.shard_map.shards)}
    return states == {SubscriptionState.STREAMING}


def test_status_reports_three_subscriptions_streaming(replicated):
    eventually("every shard streaming", lambda: _all_streaming(replicated))
    found = replication_status(replicated.national, replicated.shard_map.shards)
    assert [(row.shard, list(row.provinces)) for row in found] == list(SPLIT.items())
    assert all(row.lag_bytes is not None and row.lag_bytes >= 0 for row in found)
    assert all(row.detail is None for row in found)


def test_shards_status_json_on_the_command_line(replicated):
    eventually("every shard streaming", lambda: _all_streaming(replicated))
    result = replicated.cli("shards", "status", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["shards"]
    assert [(s["shard"], s["provinces"], s["state"]) for s in found] == [
        (name, provinces, "streaming") for name, provinces in SPLIT.items()
    ]
    assert all(isinstance(s["lag_bytes"], int) for s in found)
    human = replicated.cli("shards", "status")
    assert human.exit_code == 0 and human.stdout.count("streaming") == 3


def test_an_unreachable_shard_is_reported_without_hiding_the_others(replicated):
    eventually("every shard streaming", lambda: _all_streaming(replicated))
    gone = Shard("gone", f"postgresql://postgres@127.0.0.1:{_free_port()}/x", frozenset({"99"}))
    *others, last = replication_status(replicated.national, [*replicated.shard_map.shards, gone])
    assert {row.state for row in others} == {SubscriptionState.STREAMING}
    assert last.state is SubscriptionState.UNREACHABLE and last.detail
    assert (last.lag_bytes, last.lag_seconds) == (None, None)


def _slots(national: Engine) -> set[str]:
    with national.connect() as conn:
        return set(conn.execute(text("SELECT slot_name FROM pg_replication_slots")).scalars())


def _subscriptions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT subname FROM pg_subscription WHERE subdbid ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalars()
        )


def test_a_shard_with_a_catalogue_of_its_own_is_refused_and_nothing_changes(replicated, cluster):
    dirty_url = _create_database(cluster, "vg_dirty")
    dirty = open_engine(dirty_url)
    try:
        upgrade(dirty)
        with dirty.begin() as conn:
            conn.execute(
                tables.provinces.insert().values(
                    code="31", name="上海", name_en="Shanghai", timezone="Asia/Shanghai"
                )
            )
        urls = {
            n: e.url.render_as_string(hide_password=False) for n, e in replicated.shards.items()
        }
        urls["north"] = dirty_url
        env = _shards_env(replicated.env["VASGUARD_DATABASE_URL"], urls)
        slots = _slots(replicated.national)
        refused = replicated.cli("shards", "setup", env=env)
        assert refused.exit_code == 2
        [line] = refused.stderr.strip().splitlines()
        assert "shard 'north': its provinces table has rows of its own" in line
        assert "Traceback" not in refused.output and refused.stdout == ""
        assert _subscriptions(dirty) == [] and _slots(replicated.national) == slots
    finally:
        dirty.dispose()


def test_unsubscribe_ends_the_subscription_and_frees_its_slot(replicated, cluster):
    spare = open_engine(_create_database(cluster, "vg_spare"))
    shard = Shard("spare", spare.url.render_as_string(hide_password=False), frozenset({"99"}))
    try:
        upgrade(spare)
        assert subscribe_catalogue(spare, replicated.national, "spare") is True
        assert subscribe_catalogue(spare, replicated.national, "spare") is False

        def streaming() -> bool:
            [row] = replication_status(replicated.national, [shard])
            return row.state is SubscriptionState.STREAMING

        eventually("the spare shard streaming", streaming)
        unsubscribe_catalogue(spare, replicated.national, "spare")
        assert _subscriptions(spare) == []
        assert subscription_name("spare") not in _slots(replicated.national)
        [row] = replication_status(replicated.national, [shard])
        assert row.state is SubscriptionState.MISSING
    finally:
        spare.dispose()


def test_a_server_without_logical_wal_is_refused_with_what_to_set(pg_url):
    engine = open_engine(pg_url)
    try:
        with engine.connect() as conn:
            level = conn.execute(text("SHOW wal_level")).scalar_one()
        assert level != "logical", "this test needs the suite's server at wal_level = replica"
        with pytest.raises(ReplicationRefused, match="needs wal_level = logical: set it in"):
            publish_catalogue(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_publication")).scalar_one() == 0
    finally:
        engine.dispose()
