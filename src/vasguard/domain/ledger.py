"""The ledger as care and the operator read it: charges with the evidence that allowed
them, refunds and bill runs, and the one rule of what state a charge is in.

Read models only: what the bill run wrote and what the customer's messages prove, put
side by side so that a disputed charge is answered from stored rows, not from memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from vasguard.domain.charging import Charged, ExemptCharged
from vasguard.domain.refusals import Refused


class ChargeStatus(StrEnum):
    """A charge's state, named as TMF678 names a bill's (``docs/api.md``)."""

    BILLED = "billed"
    ON_HOLD = "onHold"  # an open complaint is against its subscription
    REFUNDED = "refunded"


def charge_status(*, refunded: bool, held: bool) -> ChargeStatus:
    """A refund settles a charge whatever else is open; an open complaint against the
    subscription holds it (the bill run charges such a subscription nothing more, see
    ``domain/charging.py`` ``Skip.HELD``) until care resolves it."""
    if refunded:
        return ChargeStatus.REFUNDED
    return ChargeStatus.ON_HOLD if held else ChargeStatus.BILLED


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One charge, as a list shows it."""

    id: int
    msisdn: str
    province: str
    period: str
    kind: str
    amount_fen: int
    created_at: datetime
    bill_run_id: int | None
    subscription_id: int | None
    subscriber_plan_id: int | None
    service: str | None  # the service code, for a subscription's charge
    plan: str | None  # the plan code, for a plan fee
    status: ChargeStatus


@dataclass(frozen=True, slots=True)
class MessageLink:
    """A stored SMS in a charge's evidence: what it said, when, and what became of it."""

    id: int
    direction: str
    kind: str
    text: str
    created_at: datetime
    status: str
    sent_at: datetime | None
    receipt_status: str | None
    receipt_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderLink:
    """The subscription a charge is for: how it was ordered and where it stands now."""

    subscription_id: int
    service: str
    service_name: str
    provider: str
    state: str
    channel: str
    order_ref: str | None
    ordered_at: datetime
    confirmed_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None


@dataclass(frozen=True, slots=True)
class PlanOrderLink:
    """The plan a plan fee is for."""

    subscriber_plan_id: int
    plan: str
    plan_name: str
    channel: str
    ordered_at: datetime
    effective_from: datetime
    effective_to: datetime | None


@dataclass(frozen=True, slots=True)
class BillRunLink:
    id: int
    period: str
    run_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class RefundLine:
    """A refund of one charge; ``ticket`` is the complaint it resolved, if any."""

    id: int
    charge_id: int
    msisdn: str
    province: str
    period: str
    amount_fen: int
    created_at: datetime
    ticket: str | None
    cause: str


@dataclass(frozen=True, slots=True)
class HoldLink:
    """An open complaint against the charge's subscription."""

    ticket: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class ChargeEvidence:
    """A charge and every stored fact that allowed it, in the order they happened.

    ``confirmation`` and ``reminder`` are the MO and MT the bill run recorded on the charge
    (``reminder_status_at_charge`` is the reminder's status then; the message's own
    status and receipt are as of now).
    """

    charge: ChargeLine
    order: OrderLink | None
    plan_order: PlanOrderLink | None
    confirmation_request: MessageLink | None
    confirmation: MessageLink | None
    reminder: MessageLink | None
    reminder_status_at_charge: str | None
    bill_run: BillRunLink | None
    refund: RefundLine | None
    holds: list[HoldLink] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BillRunRecord:
    """A bill run as stored: where it is and what it has done so far.

    ``charged`` (per kind) and ``skipped`` (per reason) are as the run's chunks tallied
    them; ``cursor`` is the last subscriber id whose charges are committed, so a running
    run's progress reads off it. ``exempt`` is filled when the run finishes.
    """

    id: int
    period: str
    status: str
    run_at: datetime
    started_at: datetime
    finished_at: datetime | None
    cursor: int
    charged_count: int
    charged_fen: int
    charged: dict[str, Charged]
    skipped: dict[str, int]
    exempt: list[ExemptCharged]


class UnknownCharge(Refused):
    """No charge with that id, or one outside the caller's province."""

    code = "unknown_charge"


class UnknownBillRun(Refused):
    code = "unknown_bill_run"
