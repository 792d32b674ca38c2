"""A ported number's subscriber moved between shards, and the routing that follows it.

The move is four steps, each committed on its own and each found done when the command is
run again after a crash:

a. on the source, the subscriber is marked ``moving`` (an event keeps its status before),
   then the move waits until every transaction that began before the mark has ended: from
   then on every MO and request for it is refused as temporary (``SubscriberMoving``), so
   nothing of it is written on the source while it is copied;
b. its rows are copied to the target in one target transaction, ids kept, province the new
   one, status the one before the mark, with a ``subscriber.moved`` event; the counts are
   compared with the source's and the copy made again if they differ (a job's row);
c. the port is recorded on the national database, so ``Runtime.shard_of`` routes the
   number to the target (until then its MOs still reach the source, and are refused);
d. its rows are deleted from the source in one transaction.

Run again: a subscriber ``moving`` on the source only resumes at (a)'s wait; one on both
shards at (c) (the target's copy is whole: it was one transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, column, func, select, table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from vasguard.domain.catalogue import MOVING, Subscriber, UnknownSubscriber
from vasguard.domain.events import Cause
from vasguard.domain.msisdn import normalise
from vasguard.domain.partner_feed import SEQUENCER_LOCK
from vasguard.domain.refusals import Refused
from vasguard.domain.shards import ShardMap
from vasguard.store import tables
from vasguard.store.locks import holding
from vasguard.store.relocation import copy_customers, count_customers, delete_customers
from vasguard.store.subscribers import SubscriberRepository

MOVING_EVENT = "subscriber.moving"
MOVED_EVENT = "subscriber.moved"

# How long (a) waits for the transactions older than the mark: polls of POLL seconds.
POLL = 0.05
POLLS = 600
# Copies (b) made again at most, should the source's counts keep changing under it.
COPIES = 3


# PostgreSQL's view of its backends: the transactions a mark has to wait out.
_activity = table("pg_stat_activity", column("pid"), column("datname"), column("xact_start"))


class MoveRefused(Refused):
    """The move cannot be made as asked; nothing was changed."""

    code = "move_refused"


@dataclass(frozen=True, slots=True)
class Moved:
    """A finished move: where from and to, and the rows it took, per table."""

    msisdn: str
    subscriber_id: int
    source: str
    target: str
    province: str
    rows: dict[str, int]
    resumed: bool


def ported_province(conn: Connection, msisdn: str) -> str | None:
    """The province ``msisdn`` was ported to, if it was (national database)."""
    p = tables.ported_numbers.c
    found: str | None = conn.scalar(select(p.province).where(p.msisdn == msisdn))
    return found


def move_subscriber(
    national: Engine,
    engines: Mapping[str, Engine],
    shard_map: ShardMap,
    *,
    msisdn: str,
    to: str,
    province: str | None,
    at: datetime,
    cause: Cause,
) -> Moved:
    """Move ``msisdn``'s subscriber to shard ``to`` as a subscriber of ``province`` (may be
    left out when ``to`` holds one province); refused, changing nothing, for an unknown
    shard or province, a number that is no subscriber, or one on ``to`` already."""
    number = normalise(msisdn)
    target_shard = next((s for s in shard_map.shards if s.name == to), None)
    if target_shard is None:
        names = ", ".join(s.name for s in shard_map.shards)
        raise MoveRefused(f"there is no shard {to!r} (the shards are {names})")
    if province is None:
        if len(target_shard.provinces) != 1:
            raise MoveRefused(
                f"shard {to} holds provinces {', '.join(sorted(target_shard.provinces))}: "
                "name the number's new one with --province"
            )
        (province,) = target_shard.provinces
    if province not in target_shard.provinces:
        raise MoveRefused(f"province {province!r} is not on shard {to}")
    found = {name: sub for name, e in engines.items() if (sub := _subscriber(e, number))}
    if not found:
        raise UnknownSubscriber(number)
    sources = sorted(set(found) - {to})
    if not sources:
        raise MoveRefused(f"{number} is on shard {to} already")
    if len(sources) > 1 or (to in found and found[sources[0]].status != MOVING):
        raise MoveRefused(f"{number} is on shards {', '.join(sorted(found))}: repair by hand")
    source, subscriber = sources[0], found[sources[0]]
    src, dst = engines[source], engines[to]
    resumed = subscriber.status == MOVING
    detail = {"from": source, "to": to, "province": province, "status": subscriber.status}
    if to not in found:
        if resumed:
            detail["status"] = _status_before(src, subscriber.id)
        else:
            with src.begin() as conn:
                _set_status(conn, subscriber.id, MOVING, MOVING_EVENT, detail, cause, at)
        _wait_for_older_transactions(src, number)
    with _feed_sequencer_held(national):
        if to not in found:
            _copy(src, dst, subscriber.id, detail, cause, at)
        with national.begin() as conn:
            _record_port(conn, number, province, at)
        with src.begin() as conn:
            rows = delete_customers(conn, [subscriber.id])
    return Moved(number, subscriber.id, source, to, province, rows, resumed)


@contextmanager
def _feed_sequencer_held(national: Engine) -> Iterator[None]:
    """Hold the partner feed's sequencer from the copy to the delete: an event numbered on
    the source after its copy was taken would be told twice (its copy numbered again on
    the target). The sequencer's rounds are short; waited for like older transactions."""
    for _ in range(POLLS):
        with holding(national, SEQUENCER_LOCK) as taken:
            if taken:
                yield
                return
        with national.connect() as conn:
            conn.execute(select(func.pg_sleep(POLL)))
    raise MoveRefused(
        f"the partner feed's sequencer held its lock for {POLL * POLLS:g} s: "
        "run the move again later"
    )


def _subscriber(engine: Engine, msisdn: str) -> Subscriber | None:
    with engine.connect() as conn:
        return SubscriberRepository(conn).by_msisdn(msisdn)


def _set_status(
    conn: Connection,
    subscriber_id: int,
    status: str,
    kind: str,
    detail: dict[str, str],
    cause: Cause,
    at: datetime,
) -> None:
    """The subscriber's status set, with the event of ``kind`` that says why."""
    s = tables.subscribers.c
    province = conn.execute(
        update(tables.subscribers)
        .where(s.id == subscriber_id)
        .values(status=status)
        .returning(s.province)
    ).scalar_one()
    conn.execute(
        tables.events.insert().values(
            subscriber_id=subscriber_id,
            province=province,
            entity="subscriber",
            entity_id=subscriber_id,
            kind=kind,
            cause_kind=cause.kind,
            cause_ref=cause.ref,
            at=at,
            detail=json.dumps(detail, sort_keys=True),
        )
    )


def _status_before(engine: Engine, subscriber_id: int) -> str:
    """The status the latest ``subscriber.moving`` event kept (a move resumed)."""
    e = tables.events.c
    with engine.connect() as conn:
        found = conn.execute(
            select(e.detail)
            .where(e.subscriber_id == subscriber_id, e.kind == MOVING_EVENT)
            .order_by(e.id.desc())
            .limit(1)
        ).scalar_one()  # the mark wrote it in its own transaction
    status: str = json.loads(found)["status"]
    return status


def _wait_for_older_transactions(engine: Engine, msisdn: str) -> None:
    """Wait until every transaction that began before now on ``engine`` has ended: one
    that read the subscriber before its mark (an MO being answered) commits first, and
    the copy sees what it wrote. The waiting is the server's (``pg_sleep``), so no clock
    of this process is read. A role sees other roles' transactions only with
    ``pg_read_all_stats``: the move needs it, or the platform's own role."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")  # a fresh view each poll
        waiting = _transactions_before_now(conn)
        for _ in range(POLLS):
            if not waiting:
                return
            conn.execute(select(func.pg_sleep(POLL)))
            waiting &= _transactions_before_now(conn)
    pids = ", ".join(str(pid) for pid, _ in sorted(waiting))
    raise MoveRefused(
        f"{msisdn} is marked moving, but transactions older than the mark are still open on "
        f"its shard after {POLL * POLLS:g} s (pid {pids}): run the move again later"
    )


def _transactions_before_now(conn: Connection) -> set[tuple[int, datetime]]:
    a = _activity.c
    rows = conn.execute(
        select(a.pid, a.xact_start).where(
            a.datname == func.current_database(),
            a.pid != func.pg_backend_pid(),
            a.xact_start < func.statement_timestamp(),
        )
    )
    return {(r.pid, r.xact_start) for r in rows}


def _copy(
    src: Engine, dst: Engine, subscriber_id: int, detail: dict[str, str], cause: Cause, at: datetime
) -> None:
    """Copy the subscriber in one target transaction, and again should the source's
    counts have changed meanwhile (a job's row: online requests are refused by now)."""
    ids = [subscriber_id]
    for _ in range(COPIES):
        with src.connect() as source, dst.connect() as target:
            source.execution_options(isolation_level="REPEATABLE READ")
            with source.begin(), target.begin() as copying:
                copied = copy_customers(
                    source, target, subscriber_ids=ids, province=detail["province"]
                )
                _set_status(  # the status before the move, on the target
                    target, subscriber_id, detail["status"], MOVED_EVENT, detail, cause, at
                )
                with src.connect() as now:
                    if count_customers(now, subscriber_ids=ids) == copied:
                        return
                copying.rollback()
    raise MoveRefused(
        f"the rows of subscriber {subscriber_id} kept changing on shard {detail['from']} "
        "while they were copied: run the move again when its jobs are done"
    )


def _record_port(conn: Connection, msisdn: str, province: str, at: datetime) -> None:
    statement = pg_insert(tables.ported_numbers).values(
        msisdn=msisdn, province=province, moved_at=at
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[tables.ported_numbers.c.msisdn],
            set_={"province": statement.excluded.province, "moved_at": statement.excluded.moved_at},
        )
    )
