"""Reads of the catalogue: services with their provider, and what a plan includes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, exists, or_, select, update

from vasguard.domain.catalogue import BillingMode, Service
from vasguard.store.tables import plan_services, providers, provinces, services, subscriber_plans

_SERVICE_COLUMNS = (
    services.c.id,
    services.c.code,
    services.c.name,
    services.c.provider_id,
    providers.c.name.label("provider_name"),
    services.c.category,
    services.c.billing_mode,
    services.c.price_fen,
    services.c.reminder_exempt_reason,
    services.c.group_service,
)

service_select = select(*_SERVICE_COLUMNS).join_from(services, providers)


def service_from_row(m: RowMapping) -> Service:
    return Service(
        id=m["id"],
        code=m["code"],
        name=m["name"],
        provider_id=m["provider_id"],
        provider_name=m["provider_name"],
        category=m["category"],
        billing_mode=BillingMode(m["billing_mode"]),
        price_fen=m["price_fen"],
        reminder_exempt_reason=m["reminder_exempt_reason"],
        group_service=bool(m["group_service"]),
    )


def current_plan_filter(at: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """The subscriber_plans rows in force at ``at``: ``[effective_from, effective_to)``."""
    return and_(
        subscriber_plans.c.effective_from <= at,
        or_(subscriber_plans.c.effective_to.is_(None), subscriber_plans.c.effective_to > at),
    )


def plan_includes(
    subscriber_id: int | ColumnElement[int],
    service_id: int | ColumnElement[int],
    at: datetime | ColumnElement[datetime],
) -> ColumnElement[bool]:
    """The subscriber's plan in force at ``at`` includes the service.

    The one statement of "included in the plan" for orders, 0000, reminders and the bill
    run (the audit restates it on purpose, in ``store/audit.py``).
    """
    return exists().where(
        subscriber_plans.c.subscriber_id == subscriber_id,
        current_plan_filter(at),
        plan_services.c.plan_id == subscriber_plans.c.plan_id,
        plan_services.c.service_id == service_id,
    )


class CatalogueRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def service_by_code(self, code: str) -> Service | None:
        row = self._conn.execute(service_select.where(services.c.code == code)).first()
        return service_from_row(row._mapping) if row else None

    def set_exemption(self, service_id: int, reason: str | None) -> None:
        """Exempt the service from the charge reminder, saying why, or (``None``) end it."""
        self._conn.execute(
            update(services)
            .where(services.c.id == service_id)
            .values(reminder_exempt_reason=reason)
        )

    def provider_id_by_code(self, code: str) -> int | None:
        found: int | None = self._conn.scalar(
            select(providers.c.id).where(providers.c.code == code)
        )
        return found

    def is_province(self, code: str) -> bool:
        return (
            self._conn.scalar(select(provinces.c.code).where(provinces.c.code == code)) is not None
        )

    def is_withdrawn(self, service_id: int, at: datetime) -> bool:
        until = self._conn.scalar(
            select(services.c.listed_until).where(services.c.id == service_id)
        )
        return until is not None and until <= at

    def included_in_plan(self, subscriber_id: int, service_id: int, at: datetime) -> bool:
        """Whether the subscriber's plan in force at ``at`` includes the service."""
        return bool(self._conn.scalar(select(plan_includes(subscriber_id, service_id, at))))
