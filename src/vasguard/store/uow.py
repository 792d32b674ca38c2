"""The unit of work over SQLAlchemy: one transaction, and the repositories acting in it.

It provides ``services.unit_of_work.UnitOfWork``; the connection and the appends are its
own business, not the use cases'.
"""

from __future__ import annotations

from contextlib import nullcontext
from types import TracebackType

from sqlalchemy import Connection, Engine

from vasguard.store.appends import Appends
from vasguard.store.audit import AuditRepository
from vasguard.store.bill_runs import BillRunRepository
from vasguard.store.browse import BrowseRepository
from vasguard.store.catalogue import CatalogueRepository
from vasguard.store.complaints import ComplaintRepository
from vasguard.store.console_sessions import ConsoleSessionRepository
from vasguard.store.customer_logins import CustomerLoginRepository
from vasguard.store.engine import one_writer
from vasguard.store.events import EventRepository
from vasguard.store.figures import FigureRepository
from vasguard.store.idempotency import IdempotencyRepository
from vasguard.store.keys import ApiKeyRepository
from vasguard.store.ledger import LedgerRepository
from vasguard.store.listings import ListingRepository
from vasguard.store.messages import MessageRepository
from vasguard.store.partner_feed import PartnerFeedRepository
from vasguard.store.plans import PlanRepository
from vasguard.store.reminders import ReminderRepository
from vasguard.store.reports import ReportRepository
from vasguard.store.resolutions import ResolutionRepository
from vasguard.store.subscribers import SubscriberRepository
from vasguard.store.subscriptions import SubscriptionRepository
from vasguard.store.timeline import TimelineRepository


class SqlUnitOfWork:
    """``with uow:`` opens a transaction; ``commit()`` keeps it, leaving without one undoes it.

    Use cases take a fresh one so that a refusal half-way changes nothing. Its
    repositories are those ``services.unit_of_work.UnitOfWork`` declares, made in
    ``__enter__`` on the transaction's connection.
    """

    conn: Connection
    appends: Appends

    def __init__(self, engine: Engine, *, reads_only: bool = False) -> None:
        self.engine = engine
        self.reads_only = reads_only

    def __enter__(self) -> SqlUnitOfWork:
        # The transaction begins with the first statement, as a writer (see store.engine),
        # unless it only reads: then it neither waits for SQLite's one writer nor blocks it,
        # and on PostgreSQL each read is its own statement (autocommit: no BEGIN and ROLLBACK
        # round trips; at READ COMMITTED a statement sees what a transaction's would).
        self._writer = nullcontext() if self.reads_only else one_writer(self.engine)
        self._writer.__enter__()
        try:
            self.conn = self.engine.connect().execution_options(
                writer=not self.reads_only, **_reading_options(self.engine, self.reads_only)
            )
        except BaseException:
            self._writer.__exit__(None, None, None)
            raise
        self.appends = Appends()
        self.catalogue = CatalogueRepository(self.conn)
        self.subscribers = SubscriberRepository(self.conn)
        self.subscriptions = SubscriptionRepository(self.conn)
        self.messages = MessageRepository(self.conn, self.appends)
        self.events = EventRepository(self.appends)
        self.partner_feed = PartnerFeedRepository(self.conn, self.appends)
        self.keys = ApiKeyRepository(self.conn)
        self.idempotency = IdempotencyRepository(self.conn)
        self.console_sessions = ConsoleSessionRepository(self.conn)
        self.customer_logins = CustomerLoginRepository(self.conn)
        self.plans = PlanRepository(self.conn)
        self.reminders = ReminderRepository(self.conn)
        self.resolutions = ResolutionRepository(self.conn)
        self.listings = ListingRepository(self.conn, self.appends)
        self.complaints = ComplaintRepository(self.conn)
        self.bill_runs = BillRunRepository(self.conn)
        self.audit = AuditRepository(self.conn)
        self.browse = BrowseRepository(self.conn)
        self.timeline = TimelineRepository(self.conn)
        self.ledger = LedgerRepository(self.conn)
        self.reports = ReportRepository(self.conn)
        self.figures = FigureRepository(self.conn)
        return self

    def commit(self) -> None:
        self.appends.commit(self.conn)

    def rollback(self) -> None:
        self.appends.discard()
        self.conn.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.conn.rollback()
        finally:
            self.conn.close()
            self._writer.__exit__(exc_type, exc, tb)


def _reading_options(engine: Engine, reads_only: bool) -> dict[str, str]:
    if reads_only and engine.dialect.name == "postgresql":
        return {"isolation_level": "AUTOCOMMIT"}
    return {}
