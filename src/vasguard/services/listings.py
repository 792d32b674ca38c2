"""0000 and the replies to it: list, cancel by number, cancel all after a confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vasguard.domain.access import Principal
from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, Event
from vasguard.domain.listing import (
    CurrentListing,
    ListingEntry,
    PickRefusal,
    number_items,
    pick,
)
from vasguard.domain.messages import MessageKind
from vasguard.domain.ordering import allocate_code
from vasguard.domain.subscription import EndCause
from vasguard.domain.templates import ListingItem
from vasguard.services.cancellation import cancel_held
from vasguard.services.handled_mo import HandledMo
from vasguard.services.orders import find_subscriber
from vasguard.services.unit_of_work import UnitOfWork


def _numbered(uow: UnitOfWork, subscriber_id: int, at: datetime) -> list[ListingEntry]:
    """What 0000 lists at ``at``, numbered: the one rule for SMS and API alike."""
    return number_items(uow.subscriptions.listing_candidates(subscriber_id, at))


def listing_now(
    uow: UnitOfWork, clock: Clock, *, msisdn: str, principal: Principal | None
) -> list[ListingEntry]:
    """What a 0000 would list now, without sending it or storing a listing: a stored one
    would renumber the customer's last 0000, so their reply could cancel the wrong item."""
    at = clock.now()
    with uow:
        subscriber = find_subscriber(uow, msisdn, principal)
        return _numbered(uow, subscriber.id, at)


def send_listing(mo: HandledMo) -> None:
    """Number the subscriber's monthly services, store the numbering, and send it.

    The listing row is its own record (it keeps the MO that asked for it): a listing
    changes no subscription, so it writes no event.
    """
    items = _numbered(mo.uow, mo.subscriber.id, mo.at)
    mo.uow.listings.add(
        subscriber_id=mo.subscriber.id,
        province=mo.subscriber.province,
        mo_id=mo.id,
        at=mo.at,
        expires_at=mo.at + mo.deployment.listing_validity,
        items=items,
    )
    text = mo.templates.listing(
        [
            ListingItem(
                item.number,
                item.candidate.service_name,
                item.candidate.price_fen,
                item.candidate.provider_name,
                item.candidate.group_service,
            )
            for item in items
        ]
    )
    mo.reply(text, kind=MessageKind.LISTING, from_number=mo.deployment.listing_port)


def open_listing(mo: HandledMo) -> CurrentListing | None:
    latest = mo.uow.listings.latest(mo.subscriber.id)
    return latest if latest is not None and latest.listing.open_at(mo.at) else None


def cancel_items(mo: HandledMo, numbers: Sequence[int]) -> None:
    """Cancel items of the latest listing; a number it does not have refuses them all."""
    latest = mo.uow.listings.latest(mo.subscriber.id)
    chosen = pick(latest.listing if latest else None, numbers, mo.at)
    t = mo.templates
    if chosen.refusal is PickRefusal.OUT_OF_RANGE:
        assert latest is not None
        size = len(latest.listing.items)
        mo.reply(t.items_out_of_range(items=chosen.out_of_range, size=size))
    elif chosen.refusal is not None or latest is None:
        mo.reply(t.listing_expired())
    else:
        cancel_held(mo, latest.named_items(chosen.subscription_ids), cause=EndCause.LISTING_CANCEL)


def ask_cancel_all(mo: HandledMo, taken_codes: set[str]) -> None:
    """QX: name everything that would be cancelled and ask for 是{code}; cancel nothing yet."""
    latest = open_listing(mo)
    t = mo.templates
    if latest is None:
        mo.reply(t.listing_expired())
        return
    listing = latest.listing
    names = [h.service_name for h in latest.named_items() if h.state.value == "active"]
    if not names:
        mo.reply(t.listing([]))
        return
    code = allocate_code(taken_codes, mo.rng)
    mo.uow.listings.ask_cancel_all(listing.id, code, mo.at + mo.deployment.cancel_all_validity)
    mo.uow.events.add(
        Event(
            mo.subscriber.id,
            mo.subscriber.province,
            "listing",
            listing.id,
            "cancel_all_requested",
            Cause.mo(mo.id),
            mo.at,
            {"code": code, "items": len(names)},
        )
    )
    minutes = int(mo.deployment.cancel_all_validity.total_seconds() // 60)
    mo.reply(t.cancel_all_confirmation(services=names, code=code, valid_minutes=minutes))


def confirm_cancel_all(mo: HandledMo, latest: CurrentListing) -> None:
    """是{code} after QX: cancel every item of that listing still open."""
    mo.uow.listings.close_cancel_all(latest.listing.id)
    cancel_held(mo, latest.named_items(), cause=EndCause.CANCEL_ALL)
