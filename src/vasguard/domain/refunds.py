"""Refunds: how much of a charge may be given back, and which charges a refund run covers.

A refund references one charge and is never larger than it; a charge has at most one.
Two things refund whole charges at once, each described here as a ``RefundScope`` that the
store turns into one query:

* resolving a complaint with a refund gives back what the complaint covers (``covered_by``);
* ending a subscription voids its charges for periods it was never in service for
  (``voided_by_ending``, invariant 10), so "no further charges" stays true after an early
  bill run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.complaints import Complaint
from vasguard.domain.periods import LAST_YEAR, Period
from vasguard.domain.refusals import RefusedBecause


class ResolutionRefusal(StrEnum):
    UNKNOWN_TICKET = "unknown_ticket"
    ALREADY_RESOLVED = "already_resolved"
    UNKNOWN_CHARGE = "unknown_charge"
    NOTHING_CHARGED = "nothing_charged"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"


class ResolutionRefused(RefusedBecause[ResolutionRefusal]):
    """A resolution or refund that must change nothing, with a reason fit for the user."""


@dataclass(frozen=True, slots=True)
class Charge:
    """A stored charge, as much of it as refunding needs; ``period`` is ``YYYY-MM``."""

    id: int
    subscriber_id: int
    province: str
    subscription_id: int | None
    period: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class RefundRecord:
    """A stored refund; ``complaint_id`` is ``None`` unless a resolution made it."""

    id: int
    charge_id: int
    amount_fen: int
    complaint_id: int | None


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


@dataclass(frozen=True, slots=True)
class RefundScope:
    """Charges to refund in full: one subscriber's, from ``from_period`` on, that took money
    and have no refund yet — of one subscription, or of one partner's services.

    Exactly one of ``subscription_id`` and ``provider_id`` is set. Charges that took no
    money are outside every scope: there is nothing to give back (and a refund is > 0).
    """

    subscriber_id: int
    from_period: Period
    subscription_id: int | None = None
    provider_id: int | None = None

    def __post_init__(self) -> None:
        if (self.subscription_id is None) == (self.provider_id is None):
            raise ValueError("a refund scope is one subscription's or one partner's charges")


def covered_by(complaint: Complaint, zone: str) -> RefundScope | None:
    """What resolving ``complaint`` with a refund gives back.

    A complaint about a subscription covers that subscription's charges; one about a
    partner (and no one subscription) covers the subscriber's charges for that partner's
    services. Either way only from the complaint's own month (in ``zone``) on: older
    charges stay with the care agent, who refunds them one by one. ``None``: a complaint
    against nothing covers nothing.
    """
    start = Period.of(complaint.opened_at, zone)
    if complaint.subscription_id is not None:
        return RefundScope(
            complaint.subscriber_id, start, subscription_id=complaint.subscription_id
        )
    if complaint.provider_id is not None:
        return RefundScope(complaint.subscriber_id, start, provider_id=complaint.provider_id)
    return None


def in_service_during(period: Period, ended_at: datetime) -> bool:
    """Whether a subscription ended at ``ended_at`` was in service for any of ``period``.

    It was if it ended after the period began: the month it was cancelled in was (partly)
    in service and its charge stays. Ended at or before the first instant, it never was.
    """
    return ended_at > period.start


def voided_by_ending(
    subscriber_id: int, subscription_id: int, ended_at: datetime, zone: str
) -> RefundScope | None:
    """The charges an ending at ``ended_at`` voids (invariant 10): every period the
    subscription was not in service for, i.e. each period beginning at or after the end.

    ``None`` when no such period can exist (an ending in the last period the platform keeps).
    """
    ended_in = Period.of(ended_at, zone)
    if not in_service_during(ended_in, ended_at):
        return RefundScope(subscriber_id, ended_in, subscription_id=subscription_id)
    if (ended_in.year, ended_in.month) == (LAST_YEAR, 12):
        return None
    return RefundScope(subscriber_id, ended_in.next(), subscription_id=subscription_id)
