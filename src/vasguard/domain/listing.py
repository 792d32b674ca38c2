"""The 0000 listing: what is listed, how it is numbered, and what a reply's numbers mean.

Numbers belong to one listing: they stay valid until it expires or the next ``0000``
replaces it, so a customer never cancels something other than what they were shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vasguard.domain.catalogue import BillingMode
from vasguard.domain.subscription import NamedSubscription, State


@dataclass(frozen=True, slots=True)
class ListingCandidate:
    """A subscription as the listing sees it."""

    subscription_id: int
    service_code: str
    service_name: str
    provider_name: str
    price_fen: int
    billing_mode: BillingMode
    group_service: bool
    state: State
    ordered_at: datetime
    included_in_plan: bool


@dataclass(frozen=True, slots=True)
class ListingEntry:
    number: int
    candidate: ListingCandidate


def listable(candidate: ListingCandidate) -> bool:
    """Monthly, confirmed and not already paid for through the plan."""
    return (
        candidate.state is State.ACTIVE
        and candidate.billing_mode is BillingMode.MONTHLY
        and not candidate.included_in_plan
    )


def number_items(holdings: Sequence[ListingCandidate]) -> list[ListingEntry]:
    """Number what is listable from 1, in a stable order: order date, then service code."""
    kept = sorted(
        (h for h in holdings if listable(h)),
        key=lambda h: (h.ordered_at, h.service_code, h.subscription_id),
    )
    return [ListingEntry(n, h) for n, h in enumerate(kept, start=1)]


@dataclass(frozen=True, slots=True)
class Listing:
    """A stored listing: item number → subscription id, and until when it counts."""

    id: int
    expires_at: datetime
    items: dict[int, int]
    cancel_all_code: str | None = None
    cancel_all_until: datetime | None = None

    def open_at(self, at: datetime) -> bool:
        return at < self.expires_at

    def cancel_all_open_at(self, at: datetime) -> bool:
        return (
            self.cancel_all_code is not None
            and self.cancel_all_until is not None
            and at < self.cancel_all_until
            and self.open_at(at)
        )


@dataclass(frozen=True, slots=True)
class CurrentListing:
    """The latest listing, and the subscriptions its items name, as they are now."""

    listing: Listing
    subscriptions: dict[int, NamedSubscription]

    def named_items(self, subscription_ids: Sequence[int] | None = None) -> list[NamedSubscription]:
        """The items' subscriptions in item order: all of them, or those asked for."""
        wanted = set(self.listing.items.values() if subscription_ids is None else subscription_ids)
        return [self.subscriptions[i] for i in self.listing.items.values() if i in wanted]


class PickRefusal(StrEnum):
    NO_LISTING = "no_listing"
    EXPIRED = "expired"
    OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True, slots=True)
class Pick:
    subscription_ids: tuple[int, ...]
    refusal: PickRefusal | None = None
    out_of_range: tuple[int, ...] = ()


def pick(listing: Listing | None, numbers: Sequence[int], at: datetime) -> Pick:
    """Map a reply's item numbers onto the listing; any unknown number refuses them all.

    All-or-nothing, because a reply that is partly wrong may be wrong in the part we
    would act on too (invariant 7).
    """
    if listing is None:
        return Pick((), PickRefusal.NO_LISTING)
    if not listing.open_at(at):
        return Pick((), PickRefusal.EXPIRED)
    missing = tuple(n for n in numbers if n not in listing.items)
    if missing:
        return Pick((), PickRefusal.OUT_OF_RANGE, missing)
    return Pick(tuple(listing.items[n] for n in numbers))


class TdMeaning(StrEnum):
    ITEM = "item"
    SERVICE = "service"
    AMBIGUOUS = "ambiguous"
    NEITHER = "neither"


def td_number_meaning(*, item_listed: bool, service_held: bool) -> TdMeaning:
    """``TD12``: an item of the open listing, a service coded ``12``, or — if both — ask."""
    if item_listed and service_held:
        return TdMeaning.AMBIGUOUS
    if item_listed:
        return TdMeaning.ITEM
    if service_held:
        return TdMeaning.SERVICE
    return TdMeaning.NEITHER
