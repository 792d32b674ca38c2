"""Resolving complaints (care role), with or without a refund, and refunding a charge.

A refund always references one charge, is never larger than it, and a charge is refunded
at most once (``refunds.charge_id`` is unique): asking again returns the refund already
made and changes nothing. Cancelling a subscription never refunds anything by itself.

Resolving with a refund refunds, in full, every charge the complaint covers that is not
refunded yet: those of the complained-about subscription (or, for a complaint against a
partner, of the subscriber's subscriptions to that partner's services) whose billing
period is the complaint's own month or later. Older charges stay with the care agent,
who can refund them one by one with ``refund_charge``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, Event
from vasguard.domain.money import yuan
from vasguard.domain.refusals import Refused
from vasguard.domain.sending import send_after
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.messaging import queue_mt
from vasguard.store.uow import UnitOfWork


class ResolutionRefusal(StrEnum):
    UNKNOWN_TICKET = "unknown_ticket"
    ALREADY_RESOLVED = "already_resolved"
    UNKNOWN_CHARGE = "unknown_charge"
    NOTHING_CHARGED = "nothing_charged"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"


class ResolutionRefused(Refused):
    """A resolution or refund that must change nothing, with a reason fit for the user."""

    def __init__(self, refusal: ResolutionRefusal, detail: str) -> None:
        super().__init__(detail, refusal.value)
        self.refusal = refusal


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


def refund_amount(charge_id: int, charged_fen: int, requested_fen: int | None) -> int:
    """What may be refunded of a charge: all of it by default, never more, never nothing."""
    if charged_fen <= 0:
        raise ResolutionRefused(
            ResolutionRefusal.NOTHING_CHARGED, f"charge {charge_id} took no money"
        )
    amount = charged_fen if requested_fen is None else requested_fen
    if amount <= 0:
        raise ResolutionRefused(
            ResolutionRefusal.AMOUNT_NOT_POSITIVE, "a refund must be more than 0 fen"
        )
    if amount > charged_fen:
        raise ResolutionRefused(
            ResolutionRefusal.AMOUNT_TOO_LARGE,
            f"charge {charge_id} was {charged_fen} fen; a refund of {amount} fen is larger",
        )
    return amount


def resolve_complaint(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    ticket: str,
    refund: bool,
    cause: Cause,
    note: str | None = None,
) -> Resolution:
    """Resolve an open complaint, refunding the charges it covers when ``refund``.

    Raises ``ResolutionRefused`` (and changes nothing) for an unknown or resolved ticket.
    """
    at = clock.now()
    with uow:
        complaint = uow.resolutions.complaint(ticket.strip())
        if complaint is None:
            raise ResolutionRefused(
                ResolutionRefusal.UNKNOWN_TICKET, f"there is no complaint with ticket {ticket!r}"
            )
        if complaint["status"] != "open":
            raise _already_resolved(ticket)
        period = f"{complaint['opened_at'].astimezone(ZoneInfo(deployment.timezone)):%Y-%m}"
        made = (
            [
                _refund(uow, charge, charge["amount_fen"], complaint["id"], cause, at)
                for charge in uow.resolutions.refundable_charges(complaint, period)
            ]
            if refund
            else []
        )
        refunds = [r for r in made if r is not None]
        text = note or (
            f"resolved with refund of {yuan(sum(r.amount_fen for r in refunds))}"
            if refund
            else "resolved without refund"
        )
        if not uow.resolutions.resolve(complaint["id"], at, text):
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
                complaint["subscriber_id"],
                complaint["province"],
                "complaint",
                complaint["id"],
                "resolved",
                cause,
                at,
                {
                    "ticket": complaint["ticket"],
                    "refund": refund,
                    "refunds": [r.refund_id for r in refunds],
                    "notice": notice,
                },
            )
        )
        uow.commit()
    return Resolution(complaint["ticket"], complaint["id"], at, text, refunds)


def _tell_the_customer(
    uow: UnitOfWork,
    deployment: Deployment,
    complaint: dict[str, Any],
    *,
    refunded_fen: int | None,
    at: datetime,
) -> int:
    """Queue the outcome as a free notice, inside the sending window: it is no reply."""
    subscriber = uow.subscribers.by_id(complaint["subscriber_id"])
    assert subscriber is not None, "a complaint's subscriber is a foreign key"
    text = templates_for(deployment, subscriber).complaint_resolved(
        ticket=complaint["ticket"], refunded_fen=refunded_fen
    )
    zone = uow.reminders.zones().get(subscriber.province, deployment.timezone)
    return queue_mt(
        uow,
        deployment,
        subscriber,
        kind="complaint_resolved",
        text=text,
        at=at,
        subscription_id=complaint["subscription_id"],
        send_after=send_after(at, zone, deployment.sending_window),
    )


def refund_charge(
    uow: UnitOfWork,
    clock: Clock,
    *,
    charge_id: int,
    amount_fen: int | None,
    cause: Cause,
) -> Refund:
    """Refund one charge (in full by default); a charge already refunded returns that refund.

    Raises ``ResolutionRefused`` (and changes nothing) for an unknown charge or an amount
    that is not more than 0 or is larger than the charge.
    """
    at = clock.now()
    with uow:
        charge = uow.resolutions.charge(charge_id)
        if charge is None:
            raise ResolutionRefused(
                ResolutionRefusal.UNKNOWN_CHARGE, f"there is no charge with id {charge_id}"
            )
        existing = uow.resolutions.refund_of(charge_id)
        if existing is not None:
            return _existing(existing)
        amount = refund_amount(charge_id, charge["amount_fen"], amount_fen)
        made = _refund(uow, charge, amount, None, cause, at)
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


def _existing(row: dict[str, Any]) -> Refund:
    return Refund(row["id"], row["charge_id"], row["amount_fen"], row["complaint_id"], False)


def _refund(
    uow: UnitOfWork,
    charge: dict[str, Any],
    amount: int,
    complaint_id: int | None,
    cause: Cause,
    at: datetime,
) -> Refund | None:
    """Insert the refund and its event; ``None`` if the charge already has a refund."""
    refund_id = uow.resolutions.add_refund(
        charge_id=charge["id"],
        subscriber_id=charge["subscriber_id"],
        province=charge["province"],
        complaint_id=complaint_id,
        amount_fen=refund_amount(charge["id"], charge["amount_fen"], amount),
        created_at=at,
        cause_ref=f"{cause.kind}:{cause.ref}"[:64],
    )
    if refund_id is None:
        return None
    uow.events.add(
        Event(
            charge["subscriber_id"],
            charge["province"],
            "charge",
            charge["id"],
            "refunded",
            cause,
            at,
            {"refund": refund_id, "amount_fen": amount, "complaint": complaint_id},
        )
    )
    return Refund(refund_id, charge["id"], amount, complaint_id, True)
