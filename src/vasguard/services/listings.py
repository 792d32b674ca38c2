"""0000 and the replies to it: list, cancel by number, cancel all after a confirmation."""

from __future__ import annotations

from collections.abc import Sequence

from vasguard.domain.events import Cause, Event
from vasguard.domain.listing import PickRefusal, number_items, pick
from vasguard.domain.ordering import allocate_code
from vasguard.domain.templates import ListingItem
from vasguard.services.cancellation import cancel_held
from vasguard.services.turn import Turn
from vasguard.store.listings import ListingNow


def send_listing(turn: Turn) -> None:
    """Number the subscriber's monthly services, store the numbering, and send it.

    The listing row is its own record (it keeps the MO that asked for it): a listing
    changes no subscription, so it writes no event.
    """
    items = number_items(turn.uow.subscriptions.holdings(turn.subscriber.id, turn.at))
    turn.uow.listings.add(
        subscriber_id=turn.subscriber.id,
        province=turn.subscriber.province,
        mo_id=turn.mo_id,
        at=turn.at,
        expires_at=turn.at + turn.deployment.listing_validity,
        items=items,
    )
    text = turn.templates.listing(
        [
            ListingItem(
                item.number,
                item.holding.service_name,
                item.holding.price_fen,
                item.holding.provider_name,
                item.holding.group_service,
            )
            for item in items
        ]
    )
    turn.reply(text, kind="listing", from_number=turn.deployment.listing_port)


def open_listing(turn: Turn) -> ListingNow | None:
    latest = turn.uow.listings.latest(turn.subscriber.id)
    return latest if latest is not None and latest.listing.open_at(turn.at) else None


def cancel_items(turn: Turn, numbers: Sequence[int]) -> None:
    """Cancel items of the latest listing; a number it does not have refuses them all."""
    latest = turn.uow.listings.latest(turn.subscriber.id)
    chosen = pick(latest.listing if latest else None, numbers, turn.at)
    t = turn.templates
    if chosen.refusal is PickRefusal.OUT_OF_RANGE:
        assert latest is not None
        size = len(latest.listing.items)
        turn.reply(t.items_out_of_range(items=chosen.out_of_range, size=size))
    elif chosen.refusal is not None or latest is None:
        turn.reply(t.listing_expired())
    else:
        cancel_held(turn, latest.held_items(chosen.subscription_ids), cause="listing_cancel")


def ask_cancel_all(turn: Turn, taken_codes: set[str]) -> None:
    """QX: name everything that would be cancelled and ask for 是{code}; cancel nothing yet."""
    latest = open_listing(turn)
    t = turn.templates
    if latest is None:
        turn.reply(t.listing_expired())
        return
    listing = latest.listing
    names = [h.service_name for h in latest.held_items() if h.state.value == "active"]
    if not names:
        turn.reply(t.listing([]))
        return
    code = allocate_code(taken_codes, turn.rng)
    turn.uow.listings.ask_cancel_all(
        listing.id, code, turn.at + turn.deployment.cancel_all_validity
    )
    turn.uow.events.add(
        Event(
            turn.subscriber.id,
            turn.subscriber.province,
            "listing",
            listing.id,
            "cancel_all_requested",
            Cause.mo(turn.mo_id),
            turn.at,
            {"code": code, "items": len(names)},
        )
    )
    minutes = int(turn.deployment.cancel_all_validity.total_seconds() // 60)
    turn.reply(t.cancel_all_confirmation(services=names, code=code, valid_minutes=minutes))


def confirm_cancel_all(turn: Turn, latest: ListingNow) -> None:
    """是{code} after QX: cancel every item of that listing still open."""
    turn.uow.listings.close_cancel_all(latest.listing.id)
    cancel_held(turn, latest.held_items(), cause="cancel_all")
