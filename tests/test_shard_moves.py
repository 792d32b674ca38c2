"""Customers split over shards, and a ported number's subscriber moved between them.

Five databases of the test's own on PostgreSQL: a generated operator in one, split by
``vasguard shards split`` over three shards (the catalogue put on each as replication
would), and a national one for the API keys and the ported numbers. What must hold: every
subscriber lands on its shard alone, ids and all, the counts summing to the source's; a
moved subscriber's history is whole on its new shard and gone from the old; an MO during
the move is refused as temporary and answered once when sent again; a move cut short is
finished by running it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from access_keys import KeyedClient
from conftest import T0, private_database
from sqlalchemy import Engine, func, select
from test_sharded import AT, REMINDED, SHARDS, _order_and_confirm, _run, _shard_map

from vasguard.bootstrap import Runtime
from vasguard.channels.http.app import create_app
from vasguard.config import Settings
from vasguard.domain.access import Role
from vasguard.domain.clock import FixedClock
from vasguard.generate.run import generate
from vasguard.services.keys import create_key
from vasguard.store import moves, tables
from vasguard.store.relocation import CUSTOMER_TABLES, ID_RANGE, claim_id_range, count_customers
from vasguard.store.replication import CATALOGUE

pytestmark = pytest.mark.xdist_group("sharded")


@dataclass
class Split:
    source: Engine
    national: Engine
    shards: dict[str, Engine]
    provinces: dict[str, frozenset[str]]
    env: dict[str, str]
    rt: Runtime
    gateway: str  # the gateway key's secret, for the API's MO routes


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _copy_catalogue(source: Engine, target: Engine) -> None:
    with source.connect() as src, target.begin() as dst:
        for table in CATALOGUE:
            dst.execute(table.insert(), [dict(r._mapping) for r in src.execute(select(table))])


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    """A generated operator, split over the three shards by the command itself; made once
    for the module (five migrated databases), each move test moving a subscriber of its own."""
    tmp_path = tmp_path_factory.mktemp("moves")
    with (
        private_database("postgresql", "mv_source", tmp_path) as source,
        private_database("postgresql", "mv_national", tmp_path) as nat,
        private_database("postgresql", "mv_east", tmp_path) as east,
        private_database("postgresql", "mv_north", tmp_path) as north,
        private_database("postgresql", "mv_west", tmp_path) as west,
    ):
        generate(source, subscribers=150, seed=12, at=T0)
        shards = {"east": east, "north": north, "west": west}
        for engine in (nat, *shards.values()):
            _copy_catalogue(source, engine)
        for number, name in enumerate(SHARDS, 1):  # what `shards setup` does
            with shards[name].begin() as conn:
                assert claim_id_range(conn, number) > 0
                assert claim_id_range(conn, number) == 0
        entries = _shard_map({n: _url(e) for n, e in shards.items()})
        provinces = {str(e["name"]): frozenset(e["provinces"]) for e in entries}
        env = {"VASGUARD_DATABASE_URL": _url(nat), "VASGUARD_SHARDS": json.dumps(entries)}
        done = _run(env, "shards", "split", "--from", _url(source))
        assert done.exit_code == 0, done.output
        assert "shard east: subscribers " in done.output  # a line per table as it is done
        rt = Runtime(
            Settings(database_url=_url(nat), shards=env["VASGUARD_SHARDS"], scheduler=False),
            fixed_clock=FixedClock(T0),
        )
        secret, _ = create_key(
            rt.uow(),
            rt.clock(),
            role=Role.GATEWAY,
            name="gateway",
            provider_code=None,
            province=None,
            created_by="test",
        )
        yield Split(source, nat, shards, provinces, env, rt, secret)
        rt.dispose()


def _keys(engine: Engine, subscriber_ids: list[int] | None = None) -> dict[str, set[tuple]]:
    """Every customer row's primary key, per table (of ``subscriber_ids`` only if given)."""
    found: dict[str, set[tuple]] = {}
    with engine.connect() as conn:
        for table in CUSTOMER_TABLES:
            owner = table.c.id if table is tables.subscribers else table.c.subscriber_id
            where = owner.in_(subscriber_ids) if subscriber_ids else owner.is_not(None)
            found[table.name] = {
                tuple(r) for r in conn.execute(select(*table.primary_key).where(where))
            }
    return found


def _left(engine: Engine, subscriber_id: int) -> dict[str, int]:
    """The subscriber's rows per customer table (closed at once: a transaction left open
    would hold a move's wait)."""
    with engine.connect() as conn:
        return count_customers(conn, subscriber_ids=[subscriber_id])


def _rows(engine: Engine, subscriber_id: int) -> dict[str, list[dict]]:
    """The subscriber's rows in every customer table, but its province (a move changes it)."""
    found: dict[str, list[dict]] = {}
    with engine.connect() as conn:
        for table in CUSTOMER_TABLES:
            owner = table.c.id if table is tables.subscribers else table.c.subscriber_id
            rows = conn.execute(
                select(table).where(owner == subscriber_id).order_by(*table.primary_key)
            )
            found[table.name] = [
                {k: v for k, v in r._mapping.items() if k not in ("province", "status", "seq")}
                for r in rows
            ]
    return found


def test_a_split_puts_every_subscriber_on_its_shard_with_its_ids(split):
    s = split
    source = _keys(s.source)
    assert len(source["subscribers"]) == 150 and source["messages"] and source["subscriptions"]
    union: dict[str, set[tuple]] = {t.name: set() for t in CUSTOMER_TABLES}
    sums = dict.fromkeys(union, 0)
    p = tables.subscribers.c
    for name, engine in s.shards.items():
        with engine.connect() as conn:
            held = set(conn.scalars(select(p.province).where(p.id < ID_RANGE).distinct()))
        assert held and held <= s.provinces[name], name
        for table, keys in _keys(engine).items():
            split_in = {k for k in keys if k[0] < ID_RANGE}  # not made here since (moves)
            assert not split_in & union[table], (name, table)  # on one shard only
            union[table] |= split_in
            sums[table] += len(split_in)
    assert union == source  # ids and all
    assert sums == {table: len(keys) for table, keys in source.items()}
    again = _run(s.env, "shards", "split", "--from", _url(s.source))
    assert again.exit_code == 2 and "holds customers already" in again.output
    wrong = _run(s.env, "shards", "split", "--from", "nowhere")
    assert wrong.exit_code == 2 and "not a database URL" in wrong.output


def _mover(s: Split, n: int) -> tuple[str, int]:
    """The ``n``-th subscriber split onto the east shard (each test moves its own): its
    number and id."""
    p = tables.subscribers.c
    with s.source.connect() as conn:  # the source stays as it was split: a stable choice
        row = conn.execute(
            select(p.msisdn, p.id)
            .where(p.province.in_(sorted(s.provinces["east"])))
            .order_by(p.id)
            .offset(n)
            .limit(1)
        ).one()
    return row.msisdn, row.id


def _history(s: Split, msisdn: str) -> None:
    """A subscription ordered and confirmed, reminded and billed: messages, events, a charge."""
    rt = s.rt
    with s.source.connect() as conn:
        service = conn.scalar(
            select(tables.services.c.code)
            .where(
                tables.services.c.billing_mode == "monthly",
                tables.services.c.price_fen > 0,
                tables.services.c.reminder_exempt_reason.is_(None),
                tables.services.c.group_service.is_(False),
            )
            .order_by(tables.services.c.id)
            .limit(1)
        )
    _order_and_confirm(rt, msisdn, service)
    assert _run(s.env, "jobs", "reminders", "--at", REMINDED).exit_code == 0
    billed = _run(s.env, "jobs", "bill", "--period", "2026-11", "--at", AT)
    assert billed.exit_code == 0, billed.output


def _gateway(s: Split) -> KeyedClient:
    return KeyedClient(create_app(s.rt), {"gateway": s.gateway})


def _count(engine: Engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table).where(*where)) or 0


def test_a_moved_subscribers_history_is_whole_on_the_new_shard_and_gone_from_the_old(split):
    s = split
    msisdn, subscriber_id = _mover(s, 0)
    _history(s, msisdn)
    before = _rows(s.shards["east"], subscriber_id)
    assert before["subscriptions"] and before["messages"] and before["charges"] and before["events"]
    moved = _run(
        s.env, "shards", "move", "--msisdn", msisdn, "--to", "north", "--province", "11", "--json"
    )
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout)["source"] == "east"
    after = _rows(s.shards["north"], subscriber_id)
    kinds = [e["kind"] for e in after["events"]]
    assert kinds[-2:] == ["subscriber.moving", "subscriber.moved"]
    after["events"] = after["events"][:-2]
    assert after == before  # same ids, same rows
    assert all(keys == set() for keys in _keys(s.shards["east"], [subscriber_id]).values())
    assert all(n == 0 for n in _left(s.shards["east"], subscriber_id).values())
    p = tables.subscribers.c
    with s.shards["north"].connect() as conn:
        assert conn.execute(select(p.province, p.status).where(p.id == subscriber_id)).one() == (
            "11",
            "active",
        )
    assert s.rt.shard_of(msisdn) == "north"
    with _gateway(s) as client:
        answer = client.post(
            "/api/v1/sms/mo", json={"from": msisdn, "text": "0000", "id": "after-1"}
        )
    assert answer.status_code == 200 and answer.json()["replies"], answer.text
    m = tables.messages.c
    assert _count(s.shards["north"], tables.messages, m.smsc_message_id == "after-1") == 1
    assert _count(s.shards["east"], tables.messages, m.msisdn == msisdn) == 0
    assert _count(s.shards["north"], tables.events, tables.events.c.id >= 2 * ID_RANGE) >= 1


def test_bad_moves_change_nothing(split):
    s = split
    msisdn, subscriber_id = _mover(s, 1)
    for args, said in [
        (["--to", "south"], "no shard 'south'"),
        (["--to", "north"], "--province"),
        (["--to", "north", "--province", "31"], "not on shard north"),
        (["--to", "east", "--province", "31"], "on shard east already"),
    ]:
        refused = _run(s.env, "shards", "move", "--msisdn", msisdn, *args)
        assert refused.exit_code == 2 and said in refused.output, refused.output
    refused = _run(
        s.env, "shards", "move", "--msisdn", "13900000000", "--to", "north", "--province", "11"
    )
    assert refused.exit_code == 2 and "not a subscriber" in refused.output
    p = tables.subscribers.c
    assert (
        _count(s.shards["east"], tables.subscribers, p.id == subscriber_id, p.status == "active")
        == 1
    )
    assert _count(s.national, tables.ported_numbers, tables.ported_numbers.c.msisdn == msisdn) == 0


def test_an_mo_during_the_move_is_refused_for_now_and_answered_once_after(split, monkeypatch):
    s = split
    msisdn, subscriber_id = _mover(s, 2)

    def crash(*_args, **_kwargs):
        raise ConnectionError("national database lost")

    monkeypatch.setattr(moves, "_record_port", crash)  # a crash between copy and delete
    first = _run(s.env, "shards", "move", "--msisdn", msisdn, "--to", "west", "--province", "51")
    assert first.exit_code != 0
    p = tables.subscribers.c
    assert (
        _count(s.shards["east"], tables.subscribers, p.id == subscriber_id, p.status == "moving")
        == 1
    )
    assert (
        _count(s.shards["west"], tables.subscribers, p.id == subscriber_id, p.status == "active")
        == 1
    )
    mo = {"from": msisdn, "text": "0000", "id": "during-1"}
    with _gateway(s) as client:
        refused = client.post("/api/v1/sms/mo", json=mo)
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5"
        assert refused.json()["type"].endswith("subscriber-moving")
        batch = client.post("/api/v1/sms/mo-batch", json={"messages": [mo]}).json()
        assert batch["results"][0]["problem"]["status"] == 503
        m = tables.messages.c
        assert all(
            _count(e, tables.messages, m.smsc_message_id == "during-1") == 0
            for e in s.shards.values()
        )
        monkeypatch.undo()
        again = _run(
            s.env,
            "shards",
            "move",
            "--msisdn",
            msisdn,
            "--to",
            "west",
            "--province",
            "51",
            "--json",
        )
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["resumed"] is True
        answered = client.post("/api/v1/sms/mo", json=mo)
        assert answered.status_code == 200 and answered.json()["replies"], answered.text
        replayed = client.post("/api/v1/sms/mo", json=mo)
        assert replayed.json()["duplicate"] is True and replayed.json()["replies"] == []
    assert _count(s.shards["west"], tables.messages, m.smsc_message_id == "during-1") == 1
    assert (
        _count(
            s.shards["west"],
            tables.messages,
            m.in_reply_to.is_not(None),
            m.subscriber_id == subscriber_id,
        )
        >= 1
    )
    assert all(n == 0 for n in _left(s.shards["east"], subscriber_id).values())


@pytest.mark.parametrize(
    ("step", "n"),
    [("_copy", 3), ("delete_customers", 4)],  # marked but not copied; ported but not deleted
)
def test_a_move_cut_short_is_finished_when_run_again(split, monkeypatch, step, n):
    s = split
    msisdn, subscriber_id = _mover(s, n)
    real = getattr(moves, step)

    def crash(*_args, **_kwargs):
        raise ConnectionError("a shard lost")

    monkeypatch.setattr(moves, step, crash)
    cut = _run(s.env, "shards", "move", "--msisdn", msisdn, "--to", "west", "--province", "51")
    assert cut.exit_code != 0
    p = tables.subscribers.c
    assert _count(s.shards["east"], tables.subscribers, p.id == subscriber_id, p.status == "moving")
    monkeypatch.setattr(moves, step, real)
    again = _run(s.env, "shards", "move", "--msisdn", msisdn, "--to", "west", "--province", "51")
    assert again.exit_code == 0, again.output
    assert "(resumed)" in again.stdout
    gone = _left(s.shards["east"], subscriber_id)
    assert all(n == 0 for n in gone.values())
    assert (
        _count(s.shards["west"], tables.subscribers, p.id == subscriber_id, p.status == "active")
        == 1
    )
    assert s.rt.shard_of(msisdn) == "west"
