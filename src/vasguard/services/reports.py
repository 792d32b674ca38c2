"""A period's report per province or per partner (the operator's): see ``domain/reports``."""

from __future__ import annotations

from vasguard.domain.periods import Period
from vasguard.domain.reports import ReportLine
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork


def province_report(uow: UnitOfWork, deployment: Deployment, period: str) -> list[ReportLine]:
    """Provinces with anything in ``period`` (``YYYY-MM``), by code."""
    billed = Period.parse(period, deployment.timezone)
    with uow:
        return uow.reports.by_province(billed)


def partner_report(uow: UnitOfWork, deployment: Deployment, period: str) -> list[ReportLine]:
    """Providers (the operator's own services included) with anything in ``period``."""
    billed = Period.parse(period, deployment.timezone)
    with uow:
        return uow.reports.by_provider(billed)
