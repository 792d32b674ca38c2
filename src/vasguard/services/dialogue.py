"""The SMS dialogue, channel-neutral: CLI, API, loopback SMSC and SMPP all end here.

An MO is stored and committed before anything acts on it (invariant 6), so the SMSC can
be acknowledged; the same SMSC id seen again is answered with nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vasguard.domain.catalogue import Subscriber, UnknownSubscriber
from vasguard.domain.clock import Clock
from vasguard.domain.commands import Command, Confirm, Decline, Help, parse
from vasguard.domain.msisdn import normalise
from vasguard.domain.ordering import Refusal, match_reply
from vasguard.domain.segmentation import choose_encoding
from vasguard.domain.templates import PendingRequest, Templates
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.messaging import queue_mt
from vasguard.services.orders import confirm_order, decline_order
from vasguard.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class MoResult:
    mo_id: int | None
    duplicate: bool
    replies: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Turn:
    """One MO being answered: who sent it, when, and the replies gathered so far."""

    uow: UnitOfWork
    deployment: Deployment
    subscriber: Subscriber
    mo_id: int
    text: str
    at: datetime
    templates: Templates
    replies: list[str] = field(default_factory=list)

    def reply(self, text: str, *, kind: str = "reply", subscription_id: int | None = None) -> None:
        queue_mt(
            self.uow,
            self.deployment,
            self.subscriber,
            kind=kind,
            text=text,
            at=self.at,
            in_reply_to=self.mo_id,
            subscription_id=subscription_id,
            keep_lines=True,
        )
        self.replies.append(text)


def receive_mo(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    *,
    msisdn: str,
    to: str,
    text: str,
    smsc_message_id: str | None = None,
) -> MoResult:
    """Store the MO durably, then act on it once and queue the replies."""
    at = clock.now()
    number = normalise(msisdn)
    with uow:
        subscriber = uow.subscribers.by_msisdn(number)
        mo_id = uow.messages.add_mo_once(
            subscriber_id=subscriber.id if subscriber else None,
            province=subscriber.province if subscriber else None,
            msisdn=number,
            service_number=to,
            kind="mo",
            text=text,
            encoding=choose_encoding(text),
            parts=1,
            status="received",
            smsc_message_id=smsc_message_id,
            created_at=at,
        )
        if mo_id is None:
            assert smsc_message_id is not None
            stored = uow.messages.mo_by_smsc_id(smsc_message_id)
            if stored is None or stored["handled_at"] is not None:
                return MoResult(stored["id"] if stored else None, duplicate=True)
            mo_id = stored["id"]
        uow.commit()

        if subscriber is None:
            uow.messages.mark_handled(mo_id, at)
            uow.commit()
            raise UnknownSubscriber(number)
        templates = templates_for(deployment, subscriber)
        turn = Turn(uow, deployment, subscriber, mo_id, text, at, templates)
        act(turn, parse(text, deployment.keywords))
        uow.messages.mark_handled(mo_id, at)
        uow.commit()
    return MoResult(mo_id, duplicate=False, replies=turn.replies)


def act(turn: Turn, command: Command) -> None:
    match command:
        case Confirm(code) | Decline(code):
            answer_order(turn, code, confirming=isinstance(command, Confirm))
        case Help():
            turn.reply(turn.templates.help())
        case _:
            turn.reply(turn.templates.not_understood(turn.text))


def answer_order(turn: Turn, code: str | None, *, confirming: bool) -> None:
    """是/否: act on exactly the request meant, or explain why nothing changed."""
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
