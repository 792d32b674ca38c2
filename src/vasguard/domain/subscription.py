"""The life of a subscription (订购关系) and the rules that move it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.refusals import Refused


class State(StrEnum):
    PENDING = "pending_confirmation"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Channel(StrEnum):
    SMS = "sms"
    WEB = "web"
    PARTNER = "partner"
    CARE = "care"


_ALLOWED: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.ACTIVE, State.CANCELLED, State.EXPIRED}),
    State.ACTIVE: frozenset({State.CANCELLED}),
    State.CANCELLED: frozenset(),
    State.EXPIRED: frozenset(),
}

OPEN_STATES = frozenset({State.PENDING, State.ACTIVE})


class EndCause(StrEnum):
    """Why a subscription ended, as stored in ``end_cause`` and told in its event."""

    UNCONFIRMED = "unconfirmed"  # the confirmation window closed without a 是
    DECLINED = "declined"  # 否 to the confirmation request
    TD_CODE = "td_code"  # TD + the service code
    TD_REMINDER = "td_reminder"  # bare TD: the one open charge reminder
    LISTING_CANCEL = "listing_cancel"  # item numbers of the latest 0000 listing
    CANCEL_ALL = "cancel_all"  # QX, then 是 + its code
    API = "api"  # care or the operator through the API; the event names the key
    SELF_SERVICE = "self_service"  # the customer on their own page (/my)


def can_move(current: State, target: State) -> bool:
    """Whether the life cycle allows ``current`` → ``target`` (ended states are final)."""
    return target in _ALLOWED[current]


@dataclass(frozen=True, slots=True)
class PendingOrder:
    """An order waiting for the customer's 是/否, as a reply is matched against it."""

    subscription_id: int
    service_id: int
    service_code: str
    service_name: str
    provider_name: str
    price_fen: int
    code: str
    confirm_by: datetime
    provider_id: int
    order_ref: str | None  # the partner's own id of the order, told back in its feed

    def open_at(self, at: datetime) -> bool:
        return at < self.confirm_by


@dataclass(frozen=True, slots=True)
class NamedSubscription:
    """A subscription with the names a reply about it uses, and whether it was ever charged."""

    subscription_id: int
    state: State
    service_id: int
    service_code: str
    service_name: str
    provider_id: int
    provider_name: str
    charged: bool
    order_ref: str | None = None  # the partner's own id of the order, told back in its feed


@dataclass(frozen=True, slots=True)
class ExpiringOrder:
    """A pending order whose confirmation window has closed, as the expiry job ends it."""

    subscription_id: int
    subscriber_id: int
    province: str
    provider_id: int
    service_code: str
    msisdn: str
    order_ref: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A subscription as the API shows it: whose, of what, its state and when it moved."""

    id: int
    subscriber_id: int
    msisdn: str
    province: str
    service_code: str
    service_name: str
    provider_id: int
    provider_code: str
    state: State
    channel: str
    order_ref: str | None
    ordered_at: datetime
    confirm_by: datetime | None
    confirmed_at: datetime | None
    ended_at: datetime | None
    end_cause: str | None


class UnknownSubscription(Refused):
    """No such subscription, or none the caller may see (out of scope reads as unknown)."""

    code = "unknown_subscription"


class NotPending(Refused):
    """Only an order awaiting its confirmation can be confirmed; nothing was changed."""

    code = "not_pending"
