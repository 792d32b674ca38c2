"""Resolving complaints (care role), with or without a refund, and refunding a charge.

A refund always references one charge, is never larger than it, and a charge is refunded
at most once (``refunds.charge_id`` is unique): asking again returns the refund already
made and changes nothing. Cancelling a subscription refunds only what it voids: charges
for periods the subscription was never in service for (see ``domain/refunds.py``).

Resolving with a refund refunds, in full, every charge the complaint covers that is not
refunded yet (``domain/refunds.covered_by``). Older charges stay with the care agent, who
can refund them one by one with ``refund_charge``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from vasguard.domain.access import Principal, sees_province
from vasguard.domain.clock import Clock
from vasguard.domain.complaints import Complaint, ComplaintStatus
from vasguard.domain.events import Cause, Event
from vasguard.domain.messages import MessageKind
from vasguard.domain.money import yuan
from vasguard.domain.refunds import (
    Charge,
    RefundRecord,
    ResolutionRefusal,
    ResolutionRefused,
    covered_by,
    refund_amount,
)
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.messaging import notice_due, queue_mt
from vasguard.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: int
    charge_id: int
    amount_fen: int
    complaint_id: int | None
    created: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    ticket: str
    complaint_id: int
    resolved_at: datetime
    resolution: str
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds)


def resolve_complaint(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    ticket: str,
    refund: bool,
    cause: Cause,
    note: str | None = None,
    principal: Principal | None = None,
) -> Resolution:
    """Resolve an open complaint, refunding the charges it covers when ``refund``.

    Raises ``ResolutionRefused`` (and changes nothing) for an unknown or resolved ticket.
    """
    at = clock.now()
    with uow:
        complaint = uow.resolutions.complaint(ticket.strip())
        if complaint is None or not sees_province(principal, complaint.province):
            raise ResolutionRefused(
                ResolutionRefusal.UNKNOWN_TICKET, f"there is no complaint with ticket {ticket!r}"
            )
        if complaint.status is not ComplaintStatus.OPEN:
            raise _already_resolved(ticket)
        scope = covered_by(complaint, deployment.timezone) if refund else None
        made = [
            add_refund(uow, charge, charge.amount_fen, complaint.id, cause, at)
            for charge in (uow.resolutions.unrefunded(scope) if scope is not None else [])
        ]
        refunds = [r for r in made if r is not None]
        text = note or (
            f"resolved with refund of {yuan(sum(r.amount_fen for r in refunds))}"
            if refund
            else "resolved without refund"
        )
        if not uow.resolutions.resolve(complaint.id, at, text):
            raise _already_resolved(ticket)
        notice = _tell_the_customer(
            uow,
            deployment,
            complaint,
            refunded_fen=sum(r.amount_fen for r in refunds) if refund else None,
            at=at,
        )
        uow.events.add(
            Event(
                complaint.subscriber_id,
                complaint.province,
                "complaint",
                complaint.id,
                "resolved",
                cause,
                at,
                {
                    "ticket": complaint.ticket,
                    "refund": refund,
                    "refunds": [r.refund_id for r in refunds],
                    "notice": notice,
                },
            )
        )
        uow.commit()
    return Resolution(complaint.ticket, complaint.id, at, text, refunds)


def _tell_the_customer(
    uow: UnitOfWork,
    deployment: Deployment,
    complaint: Complaint,
    *,
    refunded_fen: int | None,
    at: datetime,
) -> int:
    """Queue the outcome as a free notice, inside the sending window: it is no reply."""
    subscriber = uow.subscribers.by_id(complaint.subscriber_id)
    assert subscriber is not None, "a complaint's subscriber is a foreign key"
    text = templates_for(deployment, subscriber).complaint_resolved(
        ticket=complaint.ticket, refunded_fen=refunded_fen
    )
    return queue_mt(
        uow,
        deployment,
        subscriber,
        kind=MessageKind.COMPLAINT_RESOLVED,
        text=text,
        at=at,
        subscription_id=complaint.subscription_id,
        send_after=notice_due(uow, deployment, subscriber, at),
    )


def refund_charge(
    uow: UnitOfWork,
    clock: Clock,
    *,
    charge_id: int,
    amount_fen: int | None,
    cause: Cause,
    principal: Principal | None = None,
    reason: str | None = None,
) -> Refund:
    """Refund one charge (in full by default); a charge already refunded returns that refund.
    ``reason``, staff's words for it, is kept in the refund's event.

    Raises ``ResolutionRefused`` (and changes nothing) for an unknown charge or an amount
    that is not more than 0 or is larger than the charge.
    """
    at = clock.now()
    with uow:
        charge = uow.resolutions.charge(charge_id)
        if charge is None or not sees_province(principal, charge.province):
            raise ResolutionRefused(
                ResolutionRefusal.UNKNOWN_CHARGE, f"there is no charge with id {charge_id}"
            )
        existing = uow.resolutions.refund_of(charge_id)
        if existing is not None:
            return _existing(existing)
        amount = refund_amount(charge_id, charge.amount_fen, amount_fen)
        made = add_refund(uow, charge, amount, None, cause, at, reason=reason)
        if made is None:
            # Refunded concurrently between our read and our insert: report that refund.
            uow.rollback()
            found = uow.resolutions.refund_of(charge_id)
            assert found is not None
            return _existing(found)
        uow.commit()
    return made


def _already_resolved(ticket: str) -> ResolutionRefused:
    return ResolutionRefused(
        ResolutionRefusal.ALREADY_RESOLVED, f"complaint {ticket} is already resolved"
    )


def _existing(record: RefundRecord) -> Refund:
    return Refund(record.id, record.charge_id, record.amount_fen, record.complaint_id, False)


def add_refund(
    uow: UnitOfWork,
    charge: Charge,
    amount: int,
    complaint_id: int | None,
    cause: Cause,
    at: datetime,
    *,
    event: Literal["refunded", "voided"] = "refunded",
    reason: str | None = None,
) -> Refund | None:
    """Insert the refund and its event, in ``uow``'s transaction; ``None`` if the charge
    already has a refund. ``event`` names why: given back by care, or voided by an ending."""
    refund_id = uow.resolutions.add_refund(
        charge,
        amount_fen=refund_amount(charge.id, charge.amount_fen, amount),
        complaint_id=complaint_id,
        created_at=at,
        cause_ref=f"{cause.kind}:{cause.ref}"[:64],
    )
    if refund_id is None:
        return None
    uow.events.add(
        Event(
            charge.subscriber_id,
            charge.province,
            "charge",
            charge.id,
            event,
            cause,
            at,
            {
                "refund": refund_id,
                "amount_fen": amount,
                "period": charge.period,
                "complaint": complaint_id,
                **({"reason": reason} if reason else {}),
            },
        )
    )
    return Refund(refund_id, charge.id, amount, complaint_id, True)
