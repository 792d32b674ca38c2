"""What a use case needs of a transaction: the repositories, commit and rollback.

The services depend on this Protocol, not on how it is made: ``store.uow.SqlUnitOfWork``
provides it over SQLAlchemy, and the composition root (``bootstrap.py``) hands it out. It
leaves out the connection on purpose, so no use case can run SQL of its own: every query
is a repository's.

``with uow:`` opens a transaction; ``commit()`` keeps what was done so far, and leaving
the block without it undoes everything, so a refusal half-way changes nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from vasguard.store.audit import AuditRepository
from vasguard.store.bill_runs import BillRunRepository
from vasguard.store.browse import BrowseRepository
from vasguard.store.catalogue import CatalogueRepository
from vasguard.store.complaints import ComplaintRepository
from vasguard.store.console_sessions import ConsoleSessionRepository
from vasguard.store.customer_logins import CustomerLoginRepository
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


class UnitOfWork(Protocol):
    catalogue: CatalogueRepository
    subscribers: SubscriberRepository
    subscriptions: SubscriptionRepository
    messages: MessageRepository
    events: EventRepository
    partner_feed: PartnerFeedRepository
    keys: ApiKeyRepository
    idempotency: IdempotencyRepository
    console_sessions: ConsoleSessionRepository
    customer_logins: CustomerLoginRepository
    plans: PlanRepository
    reminders: ReminderRepository
    resolutions: ResolutionRepository
    listings: ListingRepository
    complaints: ComplaintRepository
    bill_runs: BillRunRepository
    audit: AuditRepository
    browse: BrowseRepository  # the API's lists, a page at a time
    timeline: TimelineRepository
    ledger: LedgerRepository
    reports: ReportRepository
    figures: FigureRepository  # the dashboard's daily figures

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Write what is queued and commit; the unit of work stays open for more."""

    def rollback(self) -> None:
        """Undo everything since the last commit; the unit of work stays open."""
