"""Complaints (TS): what one is, and the ticket the customer quotes to care.

A complaint is against a subscription or, through it, against the partner behind it; it
stays open until care resolves it, with or without a refund (see ``domain/refunds.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from vasguard.domain.refusals import Refused
from vasguard.domain.shards import ID_RANGE


class ComplaintStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Complaint:
    """A stored complaint; ``subscription_id`` or ``provider_id`` says what it is against."""

    id: int
    ticket: str
    subscriber_id: int
    province: str
    subscription_id: int | None
    provider_id: int | None
    status: ComplaintStatus
    opened_at: datetime


def ticket_for(opened_at: datetime, complaint_id: int, zone: str) -> str:
    """``TS`` + the local opening date (``yymmdd``) + the id in seven digits; on a shard,
    the shard's number in two digits before them.

    The id makes the ticket unique; the date is the one the customer lived when they
    complained, in the deployment zone, so it agrees with the month a refund covers from
    (a complaint at 07:00 on the 1st in Shanghai is dated the 1st, not the day before).
    A shard's ids start at its number times ``ID_RANGE``; written whole they would make a
    23-character ticket for a customer to read out, so the shard's number stands for them
    (``TS26120103`` ``0000042``: the 42nd of shard 3), and ``complaint_id_of`` reads it back.
    """
    shard, serial = divmod(complaint_id, ID_RANGE)
    prefix = f"{shard:02d}" if shard else ""
    return f"TS{opened_at.astimezone(ZoneInfo(zone)):%y%m%d}{prefix}{serial:07d}"


def complaint_id_of(ticket: str) -> int | None:
    """The id ``ticket_for`` wrote into ``ticket`` (``None``: not a ticket's shape), to find
    its shard by; a ticket is looked up by its text, so a misread id only costs a search."""
    digits = ticket[8:]
    if not (ticket.startswith("TS") and ticket[2:].isascii() and ticket[2:].isdigit()):
        return None
    if len(digits) < 7:
        return None
    if len(digits) == 7:
        return int(digits)
    return int(digits[:2]) * ID_RANGE + int(digits[2:])


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    """A complaint as care and partners read it (TMF621 ``troubleTicket``, see docs/api.md).

    ``channel`` is how it came in: ``sms`` (the customer's TS) or ``care`` (opened by an
    API key on the customer's behalf; the event names the key).
    """

    id: int
    ticket: str
    msisdn: str
    province: str
    subscription_id: int | None
    service: str | None
    provider_id: int | None
    provider: str | None
    text: str | None  # None: not shown to this caller (a partner)
    status: ComplaintStatus
    channel: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class UnknownTicket(Refused):
    """No complaint with that ticket, or one the caller may not see."""

    code = "unknown_ticket"


class SubscriptionNeeded(Refused):
    """A complaint names no subscription and the customer has no reminded one it could be
    about: the same answer TS without a service code gets (say which)."""

    code = "subscription_needed"
