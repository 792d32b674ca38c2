"""What can be sold: services, their providers and prices, as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vasguard.domain.refusals import Refused


class BillingMode(StrEnum):
    MONTHLY = "monthly"
    PER_USE = "per_use"
    FREE = "free"


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    code: str
    name: str
    provider_id: int
    provider_name: str
    category: str
    billing_mode: BillingMode
    price_fen: int
    reminder_exempt_reason: str | None
    group_service: bool

    @property
    def reminder_applies(self) -> bool:
        return self.reminder_exempt_reason is None


@dataclass(frozen=True, slots=True)
class Provider:
    """Who provides services: the operator itself or a partner (SP)."""

    id: int
    code: str
    name: str
    kind: str  # operator | partner
    access_number: str


class UnknownSubscriber(Refused):
    """A well-formed number that is not one of this operator's subscribers."""

    code = "unknown_subscriber"

    def __init__(self, msisdn: str) -> None:
        super().__init__(f"{msisdn} is not a subscriber of this operator")
        self.msisdn = msisdn


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    msisdn: str
    province: str
    language: str
    status: str
