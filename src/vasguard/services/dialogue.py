"""The SMS dialogue: what each MO command does for the subscriber who sent it.

Every command either does exactly what it says or changes nothing and says why
(invariant 7). MOs reach ``act`` through ``services.intake``, which stores and commits.
"""

from __future__ import annotations

from vasguard.domain.commands import (
    CancelAll,
    CancelItemOrService,
    CancelItems,
    CancelReminded,
    CancelService,
    Command,
    Complain,
    Confirm,
    Decline,
    Help,
    ListSubscriptions,
)
from vasguard.domain.listing import TdMeaning, td_number_meaning
from vasguard.domain.ordering import Refusal, match_reply
from vasguard.domain.subscription import EndCause, NamedSubscription, State
from vasguard.domain.templates import PendingRequest
from vasguard.services.cancellation import cancel_held
from vasguard.services.complaints import open_complaint
from vasguard.services.handled_mo import HandledMo
from vasguard.services.listings import (
    ask_cancel_all,
    cancel_items,
    confirm_cancel_all,
    open_listing,
    send_listing,
)
from vasguard.services.orders import confirm_order, decline_order


def act(mo: HandledMo, command: Command) -> None:
    t = mo.templates
    match command:
        case ListSubscriptions():
            send_listing(mo)
        case CancelItems(items):
            cancel_items(mo, items)
        case CancelAll():
            ask_cancel_all(mo, _open_codes(mo))
        case CancelReminded():
            cancel_reminded(mo)
        case CancelService(code):
            cancel_service(mo, code)
        case CancelItemOrService(item, code):
            cancel_item_or_service(mo, item, code)
        case Confirm(code):
            confirm(mo, code)
        case Decline(code):
            answer_order(mo, code, confirming=False)
        case Complain(code, text):
            complain(mo, code, text)
        case Help():
            mo.reply(t.help())
        case _:
            mo.reply(t.not_understood(mo.text))


def _open_codes(mo: HandledMo) -> set[str]:
    return mo.uow.subscriptions.open_codes(mo.subscriber.id, mo.at)


def confirm(mo: HandledMo, code: str | None) -> None:
    """是 may answer an order or a QX; with both open and no code, it is ambiguous."""
    latest = open_listing(mo)
    if latest is not None and latest.listing.cancel_all_open_at(mo.at):
        if code == latest.listing.cancel_all_code:
            confirm_cancel_all(mo, latest)
            return
        if code is None:
            if _open_codes(mo):
                mo.reply(mo.templates.ambiguous(mo.text))
            else:
                confirm_cancel_all(mo, latest)
            return
    answer_order(mo, code, confirming=True)


def answer_order(mo: HandledMo, code: str | None, *, confirming: bool) -> None:
    """是/否 for an order: act on exactly the request meant, or explain why nothing changed."""
    pending = mo.uow.subscriptions.pending_orders(mo.subscriber.id)
    match = match_reply(pending, code, mo.at)
    t = mo.templates
    if match.order is not None:
        order = match.order
        if confirming:
            confirm_order(mo.uow, mo.subscriber, order, mo_id=mo.id, at=mo.at)
            text = t.order_confirmed(
                provider=order.provider_name, service=order.service_name, price_fen=order.price_fen
            )
        else:
            decline_order(mo.uow, mo.subscriber, order, mo_id=mo.id, at=mo.at)
            text = t.order_declined(provider=order.provider_name, service=order.service_name)
        mo.reply(text, subscription_id=order.subscription_id)
    elif match.refusal is Refusal.SEVERAL_OPEN:
        named = [PendingRequest(p.service_name, p.provider_name, p.code) for p in match.candidates]
        mo.reply(t.several_requests_open(named, declining=not confirming))
    elif match.refusal is Refusal.EXPIRED:
        order = match.candidates[0]
        mo.reply(t.confirmation_expired(provider=order.provider_name, service=order.service_name))
    else:
        mo.reply(t.nothing_to_confirm(code=code))


def cancel_service(mo: HandledMo, code: str) -> None:
    held = mo.uow.subscriptions.held_by_code(mo.subscriber.id, code)
    if held:
        cancel_held(mo, held, cause=EndCause.TD_CODE)
    else:
        mo.reply(mo.templates.unknown_service_code(code))


def cancel_item_or_service(mo: HandledMo, item: int, code: str) -> None:
    """``TD12``: item 12 of the open listing, or service code 12 — asked back if both."""
    latest = open_listing(mo)
    listing = latest.listing if latest is not None else None
    held = mo.uow.subscriptions.held_by_code(mo.subscriber.id, code)
    meaning = td_number_meaning(
        item_listed=listing is not None and item in listing.items, service_held=bool(held)
    )
    if meaning is TdMeaning.ITEM:
        cancel_items(mo, (item,))
    elif meaning is TdMeaning.SERVICE:
        cancel_held(mo, held, cause=EndCause.TD_CODE)
    elif meaning is TdMeaning.AMBIGUOUS:
        mo.reply(mo.templates.ambiguous(mo.text))
    elif listing is not None:
        mo.reply(mo.templates.items_out_of_range(items=(item,), size=len(listing.items)))
    else:
        mo.reply(mo.templates.unknown_service_code(code))


def _open_reminders(mo: HandledMo) -> list[NamedSubscription]:
    """Reminded subscriptions that are still active and have not been charged yet."""
    return [
        h
        for h in mo.uow.subscriptions.reminded(mo.subscriber.id)
        if h.state is State.ACTIVE and not h.charged
    ]


def cancel_reminded(mo: HandledMo) -> None:
    """Bare ``TD``: the service of the reminder, but only when exactly one is open."""
    open_reminders = _open_reminders(mo)
    if len(open_reminders) == 1:
        cancel_held(mo, open_reminders, cause=EndCause.TD_REMINDER)
    else:
        mo.reply(mo.templates.service_code_needed("cancel"))


def complain(mo: HandledMo, code: str | None, text: str) -> None:
    """``TS``: about the given service, or the one latest reminded."""
    if code is not None:
        held = mo.uow.subscriptions.by_code_any_state(mo.subscriber.id, code)
        if not held:
            mo.reply(mo.templates.unknown_service_code(code))
            return
        open_complaint(mo, held[0], text)
        return
    reminded = mo.uow.subscriptions.reminded(mo.subscriber.id)
    if reminded:
        open_complaint(mo, reminded[0], text)
    else:
        mo.reply(mo.templates.service_code_needed("complain"))
