"""What can be sold: services, their providers and prices, as the domain sees them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vasguard.domain.refusals import Refused, TryLater


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


# A subscriber being copied to another shard (``vasguard shards move``) for a moment.
MOVING = "moving"


class SubscriberMoving(TryLater):
    """The subscriber's records are being moved to another shard: send it again shortly,
    and it is taken where they are then."""

    code = "subscriber_moving"

    def __init__(self, msisdn: str) -> None:
        super().__init__(
            f"{msisdn} is moving to another shard; nothing was stored: send it again in "
            f"{self.retry_after} seconds"
        )
        self.msisdn = msisdn


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    msisdn: str
    province: str
    language: str
    status: str
