"""Every storage test runs twice: on SQLite (a file per test) and on PostgreSQL.

PostgreSQL must be reachable at ``VASGUARD_TEST_PG`` (default the local trust-auth server);
a missing server fails the run rather than skipping half the suite.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from access_keys import KeyedClient, issue_keys
from sqlalchemy import Engine, select, text

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.config import Settings
from vasguard.domain.clock import FixedClock
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import load_provinces, load_segments
from vasguard.domain.subscription import Channel
from vasguard.services.deployment import Deployment
from vasguard.services.intake import MoResult, receive_mo
from vasguard.services.orders import OrderPlaced, place_order
from vasguard.store import tables
from vasguard.store.engine import open_engine
from vasguard.store.migrate import upgrade
from vasguard.store.tables import metadata
from vasguard.store.uow import SqlUnitOfWork

PG_ADMIN_URL = os.environ.get("VASGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _worker() -> str:
    """Unique per test process, so parallel runs on one server never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = open_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"vasguard_test_{_worker()}"
    admin = open_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = open_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def private_database(backend: str, name: str, tmp: Path) -> Iterator[Engine]:
    """A migrated database of its own, for fixtures that outlive one test."""
    if backend == "sqlite":
        engine = open_engine(f"sqlite:///{tmp / (name + '.db')}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    db = f"vasguard_test_{_worker()}_{name}"
    admin = open_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    engine = open_engine(admin.url.set(database=db).render_as_string(hide_password=False))
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()


def _empty_pg(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty, migrated database: SQLite file or the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "vasguard.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    engine = open_engine(url)
    _empty_pg(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


# --- a small, readable world for service tests -------------------------------------

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ALICE = "13800000001"
BOB = "13800000002"
CAROL = "13800000003"  # English-speaking
HOME = load_segments().province_of(ALICE)


@dataclass
class World:
    """A catalogue and three subscribers, plus the engine, clock and deployment to act with."""

    engine: Engine
    clock: FixedClock
    deployment: Deployment

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def order(
        self, service: str = "80100001", msisdn: str = ALICE, channel: Channel = Channel.PARTNER
    ) -> OrderPlaced:
        return place_order(
            self.uow(),
            self.clock,
            self.deployment,
            msisdn=msisdn,
            service_code=service,
            channel=channel,
            cause=Cause(CauseKind.API, "test"),
        )

    def sms(
        self, text: str, msisdn: str = ALICE, smsc_id: str | None = None, to: str = "10086"
    ) -> MoResult:
        return receive_mo(
            self.uow(),
            self.clock,
            self.deployment,
            msisdn=msisdn,
            to=to,
            text=text,
            smsc_message_id=smsc_id,
            rng=random.Random(7),
        )

    def subscribe(self, service: str = "80100001", msisdn: str = ALICE) -> int:
        """Order and confirm by SMS at the world clock's time; the subscription id."""
        placed = self.order(service, msisdn)
        self.sms(f"是{placed.code}", msisdn)
        return placed.subscription_id

    def rows(self, table, *where):
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(table)
                    .where(*where)
                    .order_by(table.c[table.primary_key.columns.keys()[0]])
                )
            ]


SERVICES = [
    # id, code, name, provider, category, mode, price, exempt, group
    (1, "90000001", "手机报", 1, "news", "monthly", 300, None, False),
    (2, "90000002", "彩铃", 1, "music", "monthly", 500, None, False),
    (3, "80100001", "天气预报", 2, "weather", "monthly", 200, None, False),
    (4, "80100002", "健康百科", 2, "health", "monthly", 50, None, False),
    (5, "80100003", "单曲下载", 2, "music", "per_use", 100, None, False),
    (6, "80100004", "免费资讯", 2, "news", "free", 0, None, False),
    (7, "80200001", "校讯通", 3, "school", "monthly", 300, "集团统付业务由单位确认", True),
    (8, "80200002", "农信通", 3, "farm", "monthly", 300, None, True),
]


def seed_world(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            tables.provinces.insert(),
            [
                {"code": p.code, "name": p.name, "name_en": p.name_en, "timezone": p.timezone}
                for p in load_provinces()
            ],
        )
        conn.execute(
            tables.providers.insert(),
            [
                {
                    "id": 1,
                    "code": "10086",
                    "name": "中国移动",
                    "kind": "operator",
                    "access_number": "10086",
                },
                {
                    "id": 2,
                    "code": "801001",
                    "name": "星云信息",
                    "kind": "partner",
                    "access_number": "1066901",
                },
                {
                    "id": 3,
                    "code": "802001",
                    "name": "校园通科技",
                    "kind": "partner",
                    "access_number": "1066902",
                },
            ],
        )
        conn.execute(
            tables.services.insert(),
            [
                dict(
                    zip(
                        [
                            "id",
                            "code",
                            "name",
                            "provider_id",
                            "category",
                            "billing_mode",
                            "price_fen",
                            "reminder_exempt_reason",
                            "group_service",
                        ],
                        s,
                        strict=True,
                    )
                )
                for s in SERVICES
            ],
        )
        conn.execute(
            tables.plans.insert(),
            [{"id": 1, "code": "P58", "name": "58元套餐", "monthly_fee_fen": 5800}],
        )
        conn.execute(tables.plan_services.insert(), [{"plan_id": 1, "service_id": 2}])
        conn.execute(
            tables.subscribers.insert(),
            [
                {
                    "id": 1,
                    "msisdn": ALICE,
                    "province": HOME,
                    "language": "zh",
                    "status": "active",
                    "created_at": T0,
                },
                {
                    "id": 2,
                    "msisdn": BOB,
                    "province": HOME,
                    "language": "zh",
                    "status": "active",
                    "created_at": T0,
                },
                {
                    "id": 3,
                    "msisdn": CAROL,
                    "province": HOME,
                    "language": "en",
                    "status": "active",
                    "created_at": T0,
                },
            ],
        )
        conn.execute(
            tables.subscriber_plans.insert(),
            [
                {
                    "subscriber_id": 1,
                    "province": HOME,
                    "plan_id": 1,
                    "effective_from": T0.replace(month=1),
                    "ordered_at": T0.replace(month=1),
                    "channel": "care",
                }
            ],
        )


@pytest.fixture
def world(engine: Engine) -> World:
    seed_world(engine)
    return World(engine, FixedClock(T0), Deployment())


@pytest.fixture
def rt(world: World, db_url: str) -> Iterator[Runtime]:
    """The application's runtime on the test's database, at the world's instant; its
    connections (a bill run's threads' too) closed after the test, so that a run of
    many tests stays under PostgreSQL's connection limit."""
    rt = Runtime(Settings(database_url=db_url), fixed_clock=world.clock)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def keys(rt: Runtime) -> dict[str, str]:
    return issue_keys(rt, HOME)


@pytest.fixture
def client(rt: Runtime, keys: dict[str, str]) -> Iterator[KeyedClient]:
    """The API as a client that carries the key the route is for (``access_keys``)."""
    with KeyedClient(create_app(rt), keys) as c:
        yield c
