"""Reading the ledger: charges with their evidence, refunds, bill runs.

A provincial key sees its province's charges and refunds only; one outside it answers as
unknown, as a subscriber does (``domain/access.py``). Bill runs are the whole operator's:
they have no province.
"""

from __future__ import annotations

from vasguard.domain.access import Principal, sees_province
from vasguard.domain.charging import Kind
from vasguard.domain.ledger import (
    BillRunRecord,
    ChargeEvidence,
    ChargeLine,
    RefundLine,
    UnknownBillRun,
    UnknownCharge,
)
from vasguard.domain.periods import Period
from vasguard.services.deployment import Deployment
from vasguard.services.orders import find_subscriber
from vasguard.services.unit_of_work import UnitOfWork


def _province(principal: Principal | None) -> str | None:
    return principal.province if principal is not None else None


def charges_page(
    uow: UnitOfWork,
    deployment: Deployment,
    principal: Principal | None,
    *,
    after: int,
    limit: int,
    msisdn: str | None = None,
    period: str | None = None,
    kind: Kind | None = None,
) -> list[ChargeLine]:
    """Up to ``limit + 1`` charges after ``after``; an unknown (or unseen) number refuses."""
    with uow:
        subscriber_id = find_subscriber(uow, msisdn, principal).id if msisdn else None
        return uow.ledger.charges(
            after=after,
            limit=limit,
            subscriber_id=subscriber_id,
            period=None if period is None else str(Period.parse(period, deployment.timezone)),
            kind=kind.value if kind is not None else None,
            province=_province(principal),
        )


def charge_evidence(uow: UnitOfWork, principal: Principal | None, charge_id: int) -> ChargeEvidence:
    with uow:
        line = uow.ledger.charge(charge_id)
        if line is None or not sees_province(principal, line.province):
            raise UnknownCharge(f"there is no charge with id {charge_id}")
        return uow.ledger.evidence(line)


def refunds_page(
    uow: UnitOfWork,
    principal: Principal | None,
    *,
    after: int,
    limit: int,
    msisdn: str | None = None,
) -> list[RefundLine]:
    with uow:
        subscriber_id = find_subscriber(uow, msisdn, principal).id if msisdn else None
        return uow.ledger.refunds(
            after=after, limit=limit, subscriber_id=subscriber_id, province=_province(principal)
        )


def bill_runs_page(
    uow: UnitOfWork,
    deployment: Deployment,
    *,
    after: int,
    limit: int,
    period: str | None = None,
) -> list[BillRunRecord]:
    with uow:
        return uow.ledger.bill_runs(
            after=after,
            limit=limit,
            period=None if period is None else str(Period.parse(period, deployment.timezone)),
        )


def bill_run(uow: UnitOfWork, bill_run_id: int) -> BillRunRecord:
    with uow:
        found = uow.ledger.bill_run(bill_run_id)
    if found is None:
        raise UnknownBillRun(f"there is no bill run with id {bill_run_id}")
    return found
