"""The SMS dialogue, channel-neutral: CLI, API, loopback SMSC and SMPP all end here.

An MO is stored before anything acts on it and committed with its effects before the
SMSC can be acknowledged (invariant 6); the same SMSC id seen again is answered with
nothing. Every command either does exactly what it says or changes nothing and says why
(invariant 7).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.clock import Clock
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
    parse,
)
from vasguard.domain.group_commit import transactions
from vasguard.domain.listing import TdMeaning, td_number_meaning
from vasguard.domain.msisdn import InvalidMsisdn, normalise
from vasguard.domain.ordering import Refusal, match_reply
from vasguard.domain.segmentation import choose_encoding
from vasguard.domain.subscription import State
from vasguard.domain.templates import PendingRequest
from vasguard.services.cancellation import cancel_held
from vasguard.services.complaints import open_complaint
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.listings import (
    ask_cancel_all,
    cancel_items,
    confirm_cancel_all,
    open_listing,
    send_listing,
)
from vasguard.services.orders import confirm_order, decline_order
from vasguard.services.turn import Turn
from vasguard.store.subscriptions import Held
from vasguard.store.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MoResult:
    mo_id: int | None
    duplicate: bool
    replies: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IncomingMo:
    """An MO as a channel hands it over: sender, service number, text, SMSC id."""

    msisdn: str
    to: str
    text: str
    smsc_message_id: str | None = None


def receive_mo(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    msisdn: str,
    to: str,
    text: str,
    smsc_message_id: str | None = None,
    rng: random.Random | None = None,
) -> MoResult:
    """Store the MO and act on it in one transaction, committed before this returns.

    The caller acknowledges the SMSC only after that, so an MO is durable before it is
    acknowledged (invariant 6). Should acting fail, the MO alone is kept, unhandled, and
    a redelivery of the same SMSC id acts on it then.
    """
    row = _mo_row(IncomingMo(msisdn, to, text, smsc_message_id), clock)
    return _receive_one(uow, deployment, row, rng)


def _receive_one(
    uow: UnitOfWork, deployment: Deployment, row: dict[str, Any], rng: random.Random | None
) -> MoResult:
    with uow:
        try:
            result = _take(uow, deployment, row, rng)
            uow.commit()
        except Exception:
            uow.rollback()
            uow.messages.receive(**row, handled_at=None)
            uow.commit()
            raise
    if result is None:
        raise UnknownSubscriber(row["msisdn"])
    return result


def receive_mos(
    new_uow: Callable[[], UnitOfWork],
    clock: Clock,
    deployment: Deployment,
    mos: Sequence[IncomingMo],
    *,
    rng: random.Random | None = None,
) -> list[MoResult | Exception]:
    """Several MOs, several subscribers, one transaction: group commit for a busy link.

    For each MO, what ``receive_mo`` would return or raise. Which MOs share a transaction
    is ``transactions``' rule (never two from one sender). If acting on any MO fails, its
    whole transaction is undone and its MOs are taken one by one, so a bad MO costs only
    itself.
    """
    results: dict[int, MoResult | Exception] = {}
    rows: dict[int, dict[str, Any]] = {}
    for n, mo in enumerate(mos):
        try:
            rows[n] = _mo_row(mo, clock)
        except InvalidMsisdn as refused:
            results[n] = refused
    stored = list(rows)
    for run in transactions([rows[n]["msisdn"] for n in stored]):
        positions = [stored[p] for p in run]
        taken = _together(new_uow, deployment, [rows[n] for n in positions], rng)
        results.update(zip(positions, taken, strict=True))
    return [results[n] for n in range(len(mos))]


def _together(
    new_uow: Callable[[], UnitOfWork],
    deployment: Deployment,
    rows: list[dict[str, Any]],
    rng: random.Random | None,
) -> list[MoResult | Exception]:
    try:
        with new_uow() as uow:
            taken = [_take(uow, deployment, row, rng) for row in rows]
            uow.commit()
    except Exception:
        return [_alone(new_uow(), deployment, row, rng) for row in rows]
    return [
        result if result is not None else UnknownSubscriber(row["msisdn"])
        for result, row in zip(taken, rows, strict=True)
    ]


def _alone(
    uow: UnitOfWork, deployment: Deployment, row: dict[str, Any], rng: random.Random | None
) -> MoResult | Exception:
    try:
        return _receive_one(uow, deployment, row, rng)
    except UnknownSubscriber as unknown:
        return unknown
    except Exception as failed:
        log.exception("MO %s from %s stored but not handled", row["smsc_message_id"], row["msisdn"])
        return failed


def _mo_row(mo: IncomingMo, clock: Clock) -> dict[str, Any]:
    text = mo.text.replace("\x00", "\ufffd")  # NUL is no character a handset sends
    return {
        "msisdn": normalise(mo.msisdn),
        "service_number": mo.to,
        "kind": "mo",
        "text": text,
        "encoding": choose_encoding(text),
        "parts": 1,
        "status": "received",
        "smsc_message_id": mo.smsc_message_id,
        "created_at": clock.now(),
    }


def _take(
    uow: UnitOfWork, deployment: Deployment, row: dict[str, Any], rng: random.Random | None
) -> MoResult | None:
    """Store one MO and act on it inside ``uow``; ``None`` if the sender is not ours."""
    at = row["created_at"]
    received = uow.messages.receive(**row, handled_at=at)
    if received is not None:
        mo_id, subscriber = received.mo_id, received.sender
    else:
        smsc_message_id = row["smsc_message_id"]
        assert smsc_message_id is not None
        stored = uow.messages.mo_by_smsc_id(smsc_message_id)
        if stored is None or stored["handled_at"] is not None:
            return MoResult(stored["id"] if stored else None, duplicate=True)
        mo_id = stored["id"]
        uow.messages.mark_handled(mo_id, at)
        subscriber = uow.subscribers.by_msisdn(row["msisdn"])
    if subscriber is None:
        return None
    text = row["text"]
    turn = Turn(uow, deployment, subscriber, mo_id, text, at, templates_for(deployment, subscriber))
    if rng is not None:
        turn.rng = rng
    act(turn, parse(text, deployment.keywords))
    return MoResult(mo_id, duplicate=False, replies=turn.replies)


def act(turn: Turn, command: Command) -> None:
    t = turn.templates
    match command:
        case ListSubscriptions():
            send_listing(turn)
        case CancelItems(items):
            cancel_items(turn, items)
        case CancelAll():
            ask_cancel_all(turn, _open_codes(turn))
        case CancelReminded():
            cancel_reminded(turn)
        case CancelService(code):
            cancel_service(turn, code)
        case CancelItemOrService(item, code):
            cancel_item_or_service(turn, item, code)
        case Confirm(code):
            confirm(turn, code)
        case Decline(code):
            answer_order(turn, code, confirming=False)
        case Complain(code, text):
            complain(turn, code, text)
        case Help():
            turn.reply(t.help())
        case _:
            turn.reply(t.not_understood(turn.text))


def _open_codes(turn: Turn) -> set[str]:
    return turn.uow.subscriptions.open_codes(turn.subscriber.id, turn.at)


def confirm(turn: Turn, code: str | None) -> None:
    """是 may answer an order or a QX; with both open and no code, it is ambiguous."""
    latest = open_listing(turn)
    if latest is not None and latest.listing.cancel_all_open_at(turn.at):
        if code == latest.listing.cancel_all_code:
            confirm_cancel_all(turn, latest)
            return
        if code is None:
            if _open_codes(turn):
                turn.reply(turn.templates.ambiguous(turn.text))
            else:
                confirm_cancel_all(turn, latest)
            return
    answer_order(turn, code, confirming=True)


def answer_order(turn: Turn, code: str | None, *, confirming: bool) -> None:
    """是/否 for an order: act on exactly the request meant, or explain why nothing changed."""
    pending = turn.uow.subscriptions.pending_orders(turn.subscriber.id)
    match = match_reply(pending, code, turn.at)
    t = turn.templates
    if match.order is not None:
        order = match.order
        if confirming:
            confirm_order(turn.uow, turn.subscriber, order, mo_id=turn.mo_id, at=turn.at)
            text = t.order_confirmed(
                provider=order.provider_name, service=order.service_name, price_fen=order.price_fen
            )
        else:
            decline_order(turn.uow, turn.subscriber, order, mo_id=turn.mo_id, at=turn.at)
            text = t.order_declined(provider=order.provider_name, service=order.service_name)
        turn.reply(text, subscription_id=order.subscription_id)
    elif match.refusal is Refusal.SEVERAL_OPEN:
        named = [PendingRequest(p.service_name, p.provider_name, p.code) for p in match.candidates]
        turn.reply(t.several_requests_open(named, declining=not confirming))
    elif match.refusal is Refusal.EXPIRED:
        order = match.candidates[0]
        turn.reply(t.confirmation_expired(provider=order.provider_name, service=order.service_name))
    else:
        turn.reply(t.nothing_to_confirm(code=code))


def cancel_service(turn: Turn, code: str) -> None:
    held = turn.uow.subscriptions.held_by_code(turn.subscriber.id, code)
    if held:
        cancel_held(turn, held, cause="td_code")
    else:
        turn.reply(turn.templates.unknown_service_code(code))


def cancel_item_or_service(turn: Turn, item: int, code: str) -> None:
    """``TD12``: item 12 of the open listing, or service code 12 — asked back if both."""
    latest = open_listing(turn)
    listing = latest.listing if latest is not None else None
    held = turn.uow.subscriptions.held_by_code(turn.subscriber.id, code)
    meaning = td_number_meaning(
        item_listed=listing is not None and item in listing.items, service_held=bool(held)
    )
    if meaning is TdMeaning.ITEM:
        cancel_items(turn, (item,))
    elif meaning is TdMeaning.SERVICE:
        cancel_held(turn, held, cause="td_code")
    elif meaning is TdMeaning.AMBIGUOUS:
        turn.reply(turn.templates.ambiguous(turn.text))
    elif listing is not None:
        turn.reply(turn.templates.items_out_of_range(items=(item,), size=len(listing.items)))
    else:
        turn.reply(turn.templates.unknown_service_code(code))


def _open_reminders(turn: Turn) -> list[Held]:
    """Reminded subscriptions that are still active and have not been charged yet."""
    return [
        h
        for h in turn.uow.subscriptions.reminded(turn.subscriber.id)
        if h.state is State.ACTIVE and not h.charged
    ]


def cancel_reminded(turn: Turn) -> None:
    """Bare ``TD``: the service of the reminder, but only when exactly one is open."""
    open_reminders = _open_reminders(turn)
    if len(open_reminders) == 1:
        cancel_held(turn, open_reminders, cause="td_reminder")
    else:
        turn.reply(turn.templates.service_code_needed("cancel"))


def complain(turn: Turn, code: str | None, text: str) -> None:
    """``TS``: about the given service, or the one latest reminded."""
    if code is not None:
        held = turn.uow.subscriptions.by_code_any_state(turn.subscriber.id, code)
        if not held:
            turn.reply(turn.templates.unknown_service_code(code))
            return
        open_complaint(turn, held[0], text)
        return
    reminded = turn.uow.subscriptions.reminded(turn.subscriber.id)
    if reminded:
        open_complaint(turn, reminded[0], text)
    else:
        turn.reply(turn.templates.service_code_needed("complain"))
