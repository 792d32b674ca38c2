"""SQLite's WAL is written back by the checkpointer's thread, not by a commit."""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Column, Engine, Integer, MetaData, Table, func, insert, select

from vasguard.store.engine import Checkpointer, open_engine

ROWS = Table("rows", MetaData(), Column("n", Integer, primary_key=True))


def _in_the_database_file(path) -> int:
    """Rows the database file itself holds: ``immutable`` reads it without the WAL."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as raw:
        return int(raw.execute("SELECT count(*) FROM rows").fetchone()[0])


def _empty_table(path) -> Engine:
    engine = open_engine(f"sqlite:///{path}")
    ROWS.metadata.create_all(engine)
    Checkpointer(engine).checkpoint()  # the table itself into the file
    return engine


def test_a_checkpoint_writes_every_committed_frame_back(tmp_path):
    path = tmp_path / "wal.db"
    engine = _empty_table(path)
    with engine.begin() as conn:
        conn.execute(insert(ROWS), [{"n": n} for n in range(500)])
    assert _in_the_database_file(path) == 0, "the rows are still only in the WAL"
    busy, frames, written = Checkpointer(engine).checkpoint()
    assert (busy, written) == (0, frames) and frames > 0
    assert _in_the_database_file(path) == 500
    engine.dispose()


def test_the_thread_checkpoints_while_the_process_commits(tmp_path):
    path = tmp_path / "wal.db"
    engine = _empty_table(path)
    checkpointer = Checkpointer.start_for(engine, every=0.05)
    assert checkpointer is not None
    try:
        for start in range(0, 300, 100):
            with engine.begin() as conn:
                conn.execute(insert(ROWS), [{"n": n} for n in range(start, start + 100)])
        deadline = time.monotonic() + 10
        while _in_the_database_file(path) < 300:
            assert time.monotonic() < deadline, "no checkpoint within 10 s"
            time.sleep(0.05)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ROWS)).scalar_one() == 300
    finally:
        checkpointer.stop()
    assert checkpointer.checkpoints > 0
    engine.dispose()


def test_only_a_sqlite_file_gets_a_checkpointer():
    assert Checkpointer.start_for(open_engine("sqlite://")) is None
    postgres = open_engine("postgresql://postgres@127.0.0.1:5432/postgres")
    assert Checkpointer.start_for(postgres) is None
    postgres.dispose()
