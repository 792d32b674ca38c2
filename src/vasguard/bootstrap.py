"""The composition root: settings become an engine, a clock, a deployment and a transport.

Every channel (CLI, HTTP, SMS) builds one ``Runtime`` and takes its parts from it; nothing
else reads settings or picks an adapter.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache, cached_property, partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from vasguard.channels.sms.engine import EngineGroup, SmsEngine
from vasguard.channels.sms.loopback import LoopbackSmsc
from vasguard.config import Settings
from vasguard.domain.clock import Clock, FixedClock, SystemClock
from vasguard.domain.commands import DEFAULT_KEYWORDS, ENGLISH_REGIME
from vasguard.domain.complaints import complaint_id_of
from vasguard.domain.msisdn import UnknownSegment, load_segments, normalise
from vasguard.domain.refusals import Refused
from vasguard.domain.scorecards import Thresholds
from vasguard.domain.shards import Addressed, ShardMap, province_codes
from vasguard.domain.templates import Branding
from vasguard.services.deployment import Deployment
from vasguard.services.outbox import flush, record_receipt
from vasguard.services.partner_feed import Feed, LocalFeed
from vasguard.services.sharded_feed import ShardedFeed
from vasguard.services.shards import locate, merged_page
from vasguard.services.unit_of_work import UnitOfWork
from vasguard.store.engine import open_engine
from vasguard.store.migrate import check_schema
from vasguard.store.moves import ported_province
from vasguard.store.relocation import holds
from vasguard.store.uow import SqlUnitOfWork


@dataclass
class ShiftedClock:
    """Wall time moved to start at ``start``: ``VASGUARD_CLOCK_AT`` for demos and tests.

    It runs at wall speed (reading ``SystemClock``), so a process started "at 09:59 on the
    1st" sees its sending window open and its bill run fall due a minute later.
    """

    start: datetime
    wall: Clock = field(default_factory=SystemClock)
    _offset: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self._offset = self.start - self.wall.now()

    def now(self) -> datetime:
        return self.wall.now() + self._offset


_segments = cache(load_segments)
T = TypeVar("T")


@dataclass
class Runtime:
    """``fixed_clock`` pins the time for every request (tests, demos); otherwise wall time
    (shifted to ``settings.clock_at`` when that is set)."""

    settings: Settings
    fixed_clock: Clock | None = None

    @cached_property
    def engine(self) -> Engine:
        return open_engine(self.settings.database_url)

    @cached_property
    def shard_map(self) -> ShardMap:
        """Which database holds which provinces' subscribers; the engine's database alone
        when no shards are configured. The catalogue is written on ``engine`` only."""
        return self.settings.shard_map()

    @cached_property
    def shard_engines(self) -> dict[str, Engine]:
        """Each shard's engine by name: the national engine itself when unsharded."""
        shards = self.shard_map
        if not shards.configured:
            return {shards.shards[0].name: self.engine}
        return {shard.name: open_engine(shard.url) for shard in shards.shards}

    def shard_uows(self) -> dict[str, Callable[[], UnitOfWork]]:
        """A unit-of-work factory per shard, for work on every shard (``services/shards``)."""
        return {name: partial(SqlUnitOfWork, engine) for name, engine in self.shard_engines.items()}

    def shard_readers(self, province: str | None = None) -> dict[str, Callable[[], UnitOfWork]]:
        """Read-only unit-of-work factories per shard (``reader``), or the one of
        ``province``'s shard (every shard for a code of no province: none holds it)."""
        engines = self.shard_engines
        if province is not None and province in province_codes():
            held = self.shard_map.shard_for(province).name
            engines = {held: engines[held]} if held in engines else engines
        return {name: partial(SqlUnitOfWork, e, reads_only=True) for name, e in engines.items()}

    def shard_of(self, msisdn: str) -> str | None:
        """The shard holding ``msisdn``'s province (a ported number's, or its segment's);
        ``None`` for a number of no province of ours (its MO is kept on the national
        database, and refused there)."""
        try:
            number = normalise(msisdn)
            province = _segments().province_of(number)
        except (Refused, UnknownSegment):
            return None
        if self.shard_map.configured:
            # One primary-key probe of a small national table per routed request (a pooled
            # connection, well under a millisecond on a LAN); unsharded, nothing is asked.
            with self.engine.connect() as conn:
                province = ported_province(conn, number) or province
        return self.shard_map.shard_for(province).name

    def uow_on(self, shard: str | None) -> UnitOfWork:
        """A unit of work on the shard named (``None``: the national database)."""
        return self.uow() if shard is None else SqlUnitOfWork(self.shard_engines[shard])

    def uow_for(self, msisdn: str) -> UnitOfWork:
        """A unit of work on the shard of ``msisdn``'s subscriber: an online request
        touches that one database."""
        return self.uow_on(self.shard_of(msisdn))

    def reader_on(self, shard: str | None) -> UnitOfWork:
        """``reader`` on the shard named (``None``: the national database)."""
        if shard is None:
            return self.reader()
        return SqlUnitOfWork(self.shard_engines[shard], reads_only=True)

    def reader_for(self, msisdn: str) -> UnitOfWork:
        """``reader`` on the shard of ``msisdn``'s subscriber."""
        return self.reader_on(self.shard_of(msisdn))

    def shard_holding(self, kind: Addressed, key: int | str) -> str | None:
        """The shard holding the subscription, charge or complaint a request names by its
        id or ticket (``None``: unsharded, or on no shard: the lookup there says unknown)."""
        shards = self.shard_map
        if not shards.configured:
            return None
        row_id = complaint_id_of(key) if isinstance(key, str) else key
        made_on = None if row_id is None else shards.maker_of(row_id)

        def has_it(name: str) -> bool:
            with self.shard_engines[name].connect() as conn:
                return holds(conn, kind, key)

        return locate(
            list(self.shard_engines), made_on, has_it, parallel=self.settings.shard_parallelism
        )

    def uow_holding(self, kind: Addressed, key: int | str) -> UnitOfWork:
        """A unit of work on the shard holding what ``kind`` and ``key`` name."""
        return self.uow_on(self.shard_holding(kind, key))

    def reader_holding(self, kind: Addressed, key: int | str) -> UnitOfWork:
        """``reader`` on the shard holding what ``kind`` and ``key`` name."""
        return self.reader_on(self.shard_holding(kind, key))

    def listed(
        self,
        page: Callable[[UnitOfWork], list[T]],
        key: Callable[[T], int],
        *,
        rows: int,
        msisdn: str | None = None,
        province: str | None = None,
    ) -> list[T]:
        """A list route's page: ``page`` on the number's shard when the request names one,
        else its first ``rows`` by id over every shard (``province``'s alone for a
        provincial key). ``rows`` is how many ``page`` returns at most."""
        if msisdn is not None:
            return page(self.reader_for(msisdn))
        return merged_page(
            self.shard_readers(province),
            page,
            key,
            limit=rows,
            parallel=self.settings.shard_parallelism,
        )

    def partner_feed(self) -> Feed:
        """The partner feed the routes and the dispatcher read: unsharded, the one
        database's, exactly as it always was; sharded, the shards' events in the national
        order (``services/sharded_feed``), the webhooks staying on the national database."""
        return self.sharded_feed() or LocalFeed(self.uow)

    def sharded_feed(self) -> ShardedFeed | None:
        """The shards' feed, or ``None`` unsharded (the events are then beside the
        webhooks, read in the same transaction)."""
        if not self.shard_map.configured:
            return None
        return ShardedFeed(self.uow, self.shard_uows(), parallel=self.settings.shard_parallelism)

    def dispose(self) -> None:
        """Close every pooled connection (the national database's and the shards')."""
        for engine in self._engines():
            engine.dispose()

    def _engines(self) -> list[Engine]:
        return list({id(e): e for e in [self.engine, *self.shard_engines.values()]}.values())

    @cached_property
    def deployment(self) -> Deployment:
        s = self.settings
        return Deployment(
            branding=Branding(
                signature_zh=s.signature_zh,
                signature_en=s.signature_en,
                service_number=s.service_number,
            ),
            keywords=ENGLISH_REGIME if s.keywords == "english" else DEFAULT_KEYWORDS,
            listing_port=s.listing_port,
            sub_ports=frozenset(p.strip() for p in s.sub_ports.split(",") if p.strip()),
            timezone=s.timezone,
            confirmation_window=timedelta(hours=s.confirmation_hours),
            listing_validity=timedelta(hours=s.listing_hours),
            sending_window=(
                time.fromisoformat(s.sending_window_start),
                time.fromisoformat(s.sending_window_end),
            ),
            reminder_lead_time=timedelta(hours=s.reminder_lead_hours),
            require_delivery_receipt=s.require_delivery_receipt,
            first_month=s.first_month,
            scorecard_thresholds=Thresholds(
                min_orders=s.scorecard_min_orders,
                min_confirmation_rate=s.scorecard_min_confirmation_rate,
                max_reminder_cancel_rate=s.scorecard_max_reminder_cancel_rate,
                max_listing_cancel_rate=s.scorecard_max_listing_cancel_rate,
                max_complaints_per_1000=s.scorecard_max_complaints_per_1000,
            ),
        )

    def clock(self, at: datetime | None = None) -> Clock:
        """``--at`` given: a clock fixed there; otherwise the pinned clock or wall time."""
        if at is not None:
            return FixedClock(at)
        return self.fixed_clock or self._process_clock

    @cached_property
    def _process_clock(self) -> Clock:
        start = self.settings.clock_at
        if start is None:
            return SystemClock()
        return ShiftedClock(
            start if start.tzinfo else start.replace(tzinfo=ZoneInfo(self.settings.timezone))
        )

    def check_schema(self) -> None:
        """Refuse a database (the national one or a shard) this code did not migrate to its
        newest revision."""
        for engine in self._engines():
            check_schema(engine)

    def ping(self) -> None:
        """Raise unless the database answers a query now (``/ready``)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def reader(self) -> UnitOfWork:
        """A unit of work for reads only: on SQLite it does not queue behind the one
        writer (a bill run holds it for minutes), so key checks and lookups go on."""
        return SqlUnitOfWork(self.engine, reads_only=True)

    @cached_property
    def transport(self) -> LoopbackSmsc:
        """The embedded SMSC: the default when no SMSC is configured."""
        return LoopbackSmsc()

    def sms_engine(self) -> SmsEngine:
        """The SMS engine ``serve`` runs: SMPP binds when an SMSC is configured, otherwise
        the loopback SMSC, drained in this process.

        The engine's claims name this process (host and pid), so a part's claim says which
        of several processes on one database holds it. Sharded, one SMPP engine serves
        every shard through the same binds (MOs and receipts routed to their shards, each
        shard's outbox drained); the loopback runs an engine per shard.
        """
        clock, owner = self.clock(), f"{socket.gethostname()}:{os.getpid()}"
        smpp = self.settings.smpp_config()
        if smpp is None:
            from vasguard.channels.sms.loopback_engine import LoopbackEngine

            if not self.shard_map.configured:
                return LoopbackEngine(self.uow, clock, self.transport, owner=f"loopback@{owner}")
            return EngineGroup(
                [
                    LoopbackEngine(new_uow, clock, self.transport, owner=f"loopback-{name}@{owner}")
                    for name, new_uow in self.shard_uows().items()
                ]
            )
        from vasguard.channels.smpp.databases import Databases
        from vasguard.channels.smpp.engine import SmppEngine

        if not self.shard_map.configured:
            return SmppEngine(self.uow, clock, self.deployment, smpp, owner=f"smpp@{owner}")
        databases = Databases(self, self.shard_uows(), national_apart=True)
        return SmppEngine(databases, clock, self.deployment, smpp, owner=f"smpp@{owner}")

    def deliver(self, clock: Clock) -> int:
        """Send what is due through the loopback and apply its receipts: a one-shot CLI
        command's replies reach the (simulated) handset at once.

        Not when an SMSC is configured: there the MTs belong to the SMPP engine of
        ``vasguard serve``, and the loopback would mark real messages delivered that no
        handset received. Returns how many MTs were sent (0 then).
        """
        if self.settings.smpp_host is not None:
            return 0
        sent = 0
        for new_uow in self.shard_uows().values():
            sent += flush(new_uow(), clock, self.transport)
            for receipt in self.transport.receipts(clock.now()):
                record_receipt(new_uow(), receipt)
        return sent
