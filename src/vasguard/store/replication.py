"""The catalogue on every shard, by PostgreSQL's logical replication.

The national database (``VASGUARD_DATABASE_URL``) publishes the catalogue tables; each
shard subscribes to them, so a price or an exemption changed once on the national
database is seen in every province. Writes to those tables go to the national database
only: a row written on a shard's copy would collide with the next replicated change
(a duplicate key stops the shard's subscription until it is removed by hand).

Publications and subscriptions have no SQLAlchemy construct, so their statements are
text, and this is the one module that issues them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, exists, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from vasguard.domain.refusals import Refused
from vasguard.domain.shards import Shard
from vasguard.store import tables
from vasguard.store.engine import open_engine

PUBLICATION = "vasguard_catalogue"
CATALOGUE = (
    tables.provinces,
    tables.providers,
    tables.services,
    tables.plans,
    tables.plan_services,
)


class ReplicationRefused(Refused):
    """Replication cannot be set up as asked; nothing was changed."""

    code = "replication_refused"


class SubscriptionState(StrEnum):
    STREAMING = "streaming"  # the apply worker runs and every table is copied
    SYNCING = "syncing"  # the first copy of some table is still going on
    DOWN = "down"  # enabled but no worker: the shard's server log says why
    DISABLED = "disabled"
    MISSING = "missing"  # never subscribed: `vasguard shards setup`
    UNREACHABLE = "unreachable"  # the shard's database did not answer


@dataclass(frozen=True, slots=True)
class ShardReplication:
    """One shard's copy of the catalogue: how it stands and how far behind it is.

    ``lag_bytes``: national WAL written since the shard's last confirmed position (WAL is
    cluster-wide, so other databases' writes count too). ``lag_seconds``: PostgreSQL's
    ``replay_lag``, empty once the shard has caught up and gone idle.
    """

    shard: str
    provinces: tuple[str, ...]
    state: SubscriptionState
    lag_bytes: int | None
    lag_seconds: float | None
    detail: str | None = None


def subscription_name(shard: str) -> str:
    """The shard's subscription, and its replication slot on the national database."""
    return f"{PUBLICATION}_{shard}"


def _require_postgresql(national: Engine) -> None:
    if national.dialect.name != "postgresql":
        raise ReplicationRefused(
            "the national database (VASGUARD_DATABASE_URL) must be PostgreSQL to replicate "
            f"the catalogue to shards; it is {national.dialect.name}"
        )


def require_publishable(national: Engine) -> None:
    """Refuse unless the national database can publish: PostgreSQL with wal_level=logical."""
    _require_postgresql(national)
    with _autocommit(national) as conn:
        level = conn.execute(text("SHOW wal_level")).scalar_one()
    if level != "logical":
        raise ReplicationRefused(
            f"the national database's server has wal_level = {level}; the catalogue's "
            "logical replication needs wal_level = logical: set it in postgresql.conf "
            "(or ALTER SYSTEM SET wal_level = logical) and restart that server"
        )


def publish_catalogue(national: Engine) -> bool:
    """Publish the catalogue tables as ``vasguard_catalogue``; true if anything changed."""
    require_publishable(national)
    wanted = {t.name for t in CATALOGUE}
    listed = ", ".join(_quote(national, t.name) for t in CATALOGUE)
    with _autocommit(national) as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_publication WHERE pubname = :p"), {"p": PUBLICATION}
        ).first()
        if found is None:
            conn.execute(text(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {listed}"))
            return True
        published = conn.execute(
            text("SELECT tablename FROM pg_publication_tables WHERE pubname = :p"),
            {"p": PUBLICATION},
        ).scalars()
        if set(published) == wanted:
            return False
        conn.execute(text(f"ALTER PUBLICATION {PUBLICATION} SET TABLE {listed}"))
        return True


def check_subscribable(shard: Engine, national: Engine, name: str) -> bool:
    """Whether shard ``name`` is subscribed already; refuses one that cannot be.

    A new subscription copies the national catalogue into the shard's tables, so they
    must be empty: rows of the shard's own would collide with the copy.
    """
    if _same_database(shard.url, national.url):
        raise ReplicationRefused(
            f"shard {name!r} is the national database itself: a shard needs a database of its own"
        )
    with shard.connect() as conn:
        if _subscription_oid(conn, subscription_name(name)) is not None:
            return True
        for table in CATALOGUE:
            present = conn.execute(text("SELECT to_regclass(:t)"), {"t": table.name}).scalar()
            if present is not None and conn.execute(select(exists().select_from(table))).scalar():
                raise ReplicationRefused(
                    f"shard {name!r}: its {table.name} table has rows of its own; a shard's "
                    "catalogue tables must be empty before it subscribes (the national "
                    "catalogue is copied in)"
                )
    return False


def subscribe_catalogue(shard: Engine, national: Engine, name: str) -> bool:
    """Subscribe shard ``name`` to the national catalogue; false if it already was.

    The replication slot is always made first, on the national database, and the
    subscription told to use it (``create_slot = false``): when both databases are in
    one cluster, a CREATE SUBSCRIPTION that makes its own slot waits for its own
    transaction to end and hangs; made apart, it works in one cluster and across two.
    Making a slot waits for the national database's running transactions to finish.
    """
    if check_subscribable(shard, national, name):
        return False
    slot = subscription_name(name)
    conninfo = national.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with _autocommit(national) as conn:
        made_slot = not _slot_exists(conn, slot)
        if made_slot:
            conn.execute(
                text("SELECT pg_create_logical_replication_slot(:s, 'pgoutput')"), {"s": slot}
            )
    try:
        with _autocommit(shard) as conn:
            conn.execute(
                text(
                    f"CREATE SUBSCRIPTION {_quote(shard, slot)} "
                    f"CONNECTION {_literal(conninfo)} PUBLICATION {PUBLICATION} "
                    f"WITH (create_slot = false, slot_name = {_literal(slot)})"
                )
            )
    except BaseException:
        if made_slot:
            _drop_idle_slot(national, slot)
        raise
    return True


def unsubscribe_catalogue(shard: Engine, national: Engine, name: str) -> None:
    """End shard ``name``'s subscription and free its slot on the national database.

    The shard's catalogue rows stay; they no longer follow the national ones.
    """
    slot = subscription_name(name)
    with _autocommit(shard) as conn:
        conn.execute(text(f"DROP SUBSCRIPTION IF EXISTS {_quote(shard, slot)}"))
    _drop_idle_slot(national, slot)


def replication_status(national: Engine, shards: Sequence[Shard]) -> list[ShardReplication]:
    """Each shard's subscription state and lag; a shard that does not answer is reported
    ``unreachable``, not raised, so one shard down does not hide the others."""
    _require_postgresql(national)
    with _autocommit(national) as conn:
        lags = {
            row.slot_name: (row.lag_bytes, row.lag_seconds)
            for row in conn.execute(
                text(
                    "SELECT s.slot_name,"
                    " pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint"
                    " AS lag_bytes,"
                    " extract(epoch FROM r.replay_lag)::float8 AS lag_seconds"
                    " FROM pg_replication_slots s"
                    " LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid"
                    " WHERE s.slot_name = ANY(:slots)"
                ),
                {"slots": [subscription_name(s.name) for s in shards]},
            )
        }
    found = []
    for shard in shards:
        lag_bytes, lag_seconds = lags.get(subscription_name(shard.name), (None, None))
        provinces = tuple(sorted(shard.provinces))
        try:
            state = _subscription_state(shard)
        except OperationalError as failed:
            reason = str(failed.orig or failed).strip().splitlines()[0]
            found.append(
                ShardReplication(
                    shard.name, provinces, SubscriptionState.UNREACHABLE, None, None, reason
                )
            )
            continue
        found.append(ShardReplication(shard.name, provinces, state, lag_bytes, lag_seconds))
    return found


def _subscription_state(shard: Shard) -> SubscriptionState:
    engine = open_engine(shard.url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            oid = _subscription_oid(conn, subscription_name(shard.name))
            if oid is None:
                return SubscriptionState.MISSING
            row = conn.execute(
                text(
                    "SELECT s.subenabled AS enabled,"
                    " (SELECT count(*) FROM pg_subscription_rel r"
                    "   WHERE r.srsubid = s.oid AND r.srsubstate <> 'r') AS copying,"
                    " (SELECT count(*) FROM pg_stat_subscription w"
                    "   WHERE w.subid = s.oid AND w.relid IS NULL AND w.pid IS NOT NULL)"
                    " AS workers"
                    " FROM pg_subscription s WHERE s.oid = :oid"
                ),
                {"oid": oid},
            ).one()
    finally:
        engine.dispose()
    if not row.enabled:
        return SubscriptionState.DISABLED
    if row.copying:
        return SubscriptionState.SYNCING
    return SubscriptionState.STREAMING if row.workers else SubscriptionState.DOWN


def _subscription_oid(conn: Connection, subscription: str) -> int | None:
    oid: int | None = conn.execute(
        text(
            "SELECT oid FROM pg_subscription WHERE subname = :s"
            " AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"s": subscription},
    ).scalar()
    return oid


def _slot_exists(conn: Connection, slot: str) -> bool:
    return (
        conn.execute(
            text("SELECT 1 FROM pg_replication_slots WHERE slot_name = :s"), {"s": slot}
        ).first()
        is not None
    )


def _drop_idle_slot(national: Engine, slot: str) -> None:
    """Drop ``slot`` unless a subscriber still streams from it."""
    with _autocommit(national) as conn:
        conn.execute(
            text(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = :s AND NOT active"
            ),
            {"s": slot},
        )


def _same_database(a: URL, b: URL) -> bool:
    def where(url: URL) -> tuple[str | None, int, str | None]:
        return (url.host or "localhost", url.port or 5432, url.database)

    return where(a) == where(b)


@contextmanager
def _autocommit(engine: Engine) -> Iterator[Connection]:
    """Replication statements refuse to run inside a transaction block."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _quote(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def _literal(value: str) -> str:
    """A string literal inside ``text()``: quotes doubled, colons kept from binding."""
    return "'" + value.replace("'", "''").replace(":", r"\:") + "'"
