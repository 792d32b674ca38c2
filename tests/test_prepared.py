"""store.prepared: statements run on the driver's cursor give what Connection.execute gives,
in the same transaction, with the same errors; what it cannot run it refuses when compiled."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from vasguard.store.engine import open_engine
from vasguard.store.prepared import DIALECTS, NotPreparable, Prepared, one_of
from vasguard.store.types import UtcDateTime

PROBES = Table(
    "prepared_probes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(40)),
    Column("flag", Boolean, nullable=False),
    Column("at", UtcDateTime()),
    Column("state", String(10), nullable=False),
)
WITH_DEFAULT = Table(
    "prepared_defaults",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("tries", Integer, nullable=False, default=0),
)

_COLUMNS = ("id", "name", "flag", "at", "state")
_ADD = Prepared(
    insert(PROBES)
    .values(**{name: bindparam(name) for name in _COLUMNS})
    .returning(PROBES.c.id, PROBES.c.flag, PROBES.c.at)
)
# A bind used twice, a literal compared against, conditions of both kinds.
_FIND = Prepared(
    select(PROBES.c.id, PROBES.c.name, PROBES.c.flag, PROBES.c.at)
    .where(
        or_(PROBES.c.at.is_(None), PROBES.c.at >= bindparam("since", type_=UtcDateTime())),
        or_(PROBES.c.state == "open", PROBES.c.state == "held"),
        PROBES.c.id >= bindparam("low"),
    )
    .order_by(PROBES.c.id)
)
_CLOSE = Prepared(
    update(PROBES)
    .where(PROBES.c.id == bindparam("probe_id"), PROBES.c.state == "open")
    .values(state="closed")
)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def probes(engine: Engine) -> Iterator[Engine]:
    PROBES.metadata.create_all(engine)
    yield engine
    PROBES.metadata.drop_all(engine)


def _probe(n: int, **values: object) -> dict[str, object]:
    row: dict[str, object] = {"id": n, "name": f"p{n}", "flag": n % 2 == 0, "at": T0}
    row["state"] = "open"
    row.update(values)
    return row


def test_rows_are_what_connection_execute_gives_converted_alike(probes: Engine) -> None:
    with probes.connect() as conn:
        added = [_ADD.first(conn, _probe(n)) for n in range(1, 4)]
        _ADD.first(conn, _probe(4, at=None, state="held", name=None))
        _ADD.first(conn, _probe(5, state="closed"))
        conn.commit()
        params = {"since": T0 - timedelta(seconds=1), "low": 2}
        found = _FIND.rows(conn, params)
        expected = [tuple(r) for r in conn.execute(_FIND.statement, params)]
    assert found == expected
    assert [r[0] for r in found] == [2, 3, 4], "closed and below-low rows left out"
    assert added[0] == (1, False, T0) and added[1] == (2, True, T0)
    assert all(type(r[2]) is bool for r in found)
    assert found[0][3] == T0 and found[0][3].tzinfo is UTC
    assert found[2][3] is None and found[2][1] is None


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.none() | st.text(max_size=40),
    flag=st.booleans(),
    at=st.none()
    | st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)
def test_any_values_come_back_as_connection_execute_reads_them(
    probes: Engine, name: str | None, flag: bool, at: datetime | None
) -> None:
    with probes.connect() as conn:
        _ADD.first(
            conn, _probe(1, name=name.replace("\x00", "") if name else name, flag=flag, at=at)
        )
        mine = _FIND.first(conn, {"since": datetime(1970, 1, 1, tzinfo=UTC), "low": 0})
        theirs = conn.execute(
            _FIND.statement, {"since": datetime(1970, 1, 1, tzinfo=UTC), "low": 0}
        ).first()
        conn.rollback()
    assert theirs is not None and mine == tuple(theirs)


def test_run_says_how_many_rows_changed(probes: Engine) -> None:
    with probes.connect() as conn:
        _ADD.first(conn, _probe(1))
        assert _CLOSE.run(conn, {"probe_id": 1}) == 1
        assert _CLOSE.run(conn, {"probe_id": 1}) == 0, "no longer open"
        assert conn.execute(select(PROBES.c.state)).scalar_one() == "closed"


def test_the_first_statement_begins_the_connections_transaction(probes: Engine) -> None:
    with probes.connect() as conn:
        assert not conn.in_transaction()
        _ADD.first(conn, _probe(1))
        assert conn.in_transaction()
        conn.rollback()
        assert conn.execute(select(PROBES.c.id)).all() == [], "rolled back with it"
        _ADD.first(conn, _probe(2))
        conn.commit()
    with probes.connect() as conn:
        assert conn.execute(select(PROBES.c.id)).scalars().all() == [2]


def test_on_sqlite_a_writers_first_statement_takes_the_write_lock(tmp_path: Path) -> None:
    """The BEGIN IMMEDIATE hook of store.engine runs, even when that statement only reads."""
    path = tmp_path / "lock.db"
    engine = open_engine(f"sqlite:///{path}")
    PROBES.metadata.create_all(engine)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with engine.connect().execution_options(writer=True) as conn:
        _FIND.rows(conn, {"since": T0, "low": 0})
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        conn.rollback()
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()
    engine.dispose()


def test_a_driver_error_is_sqlalchemys_and_the_connection_goes_on(probes: Engine) -> None:
    with probes.connect() as conn:
        _ADD.first(conn, _probe(1))
        conn.commit()
        with pytest.raises(IntegrityError):
            _ADD.first(conn, _probe(1))
        conn.rollback()
        assert _ADD.first(conn, _probe(2)) == (2, True, T0)


def test_a_missing_parameter_is_named(probes: Engine) -> None:
    with probes.connect() as conn, pytest.raises(KeyError, match="low"):
        _FIND.rows(conn, {"since": T0})


def test_what_needs_per_call_compilation_is_refused(probes: Engine) -> None:
    expanding = Prepared(select(PROBES.c.id).where(PROBES.c.state.in_(["open", "held"])))
    defaulted = Prepared(insert(WITH_DEFAULT).values(id=bindparam("id")))
    with probes.connect() as conn:
        with pytest.raises(NotPreparable, match="expanded per call"):
            expanding.rows(conn, {})
        with pytest.raises(NotPreparable, match="default"):
            defaulted.run(conn, {"id": 1})


def test_on_postgresql_a_connection_killed_is_invalidated_not_reused(pg_url: str) -> None:
    engine = open_engine(pg_url)
    PROBES.metadata.create_all(engine)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.rollback()
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as raised:
                _FIND.rows(conn, {"since": T0, "low": 0})
            assert raised.value.connection_invalidated
        with engine.connect() as conn:
            assert _FIND.rows(conn, {"since": T0, "low": 0}) == []
    finally:
        PROBES.metadata.drop_all(engine)
        engine.dispose()


_BY_IDS = {
    dialect: Prepared(
        select(PROBES.c.id).where(one_of(PROBES.c.id, "ids", dialect)).order_by(PROBES.c.id)
    )
    for dialect in DIALECTS
}
_BY_NAMES = {
    dialect: Prepared(
        select(PROBES.c.id).where(one_of(PROBES.c.name, "names", dialect)).order_by(PROBES.c.id)
    )
    for dialect in DIALECTS
}


def test_one_of_takes_a_list_of_any_length_as_one_parameter(probes: Engine) -> None:
    with probes.connect() as conn:
        for n in range(1, 8):
            _ADD.first(conn, _probe(n, name=str(n * 11)))
        by_ids, by_names = _BY_IDS[conn.dialect.name], _BY_NAMES[conn.dialect.name]
        assert by_ids.rows(conn, {"ids": [7, 2, 99, 5]}) == [(2,), (5,), (7,)]
        assert by_ids.rows(conn, {"ids": []}) == []
        assert by_ids.rows(conn, {"ids": list(range(1000))}) == [(n,) for n in range(1, 8)]
        assert by_names.rows(conn, {"names": ["22", "77", "x'; --"]}) == [(2,), (7,)]
