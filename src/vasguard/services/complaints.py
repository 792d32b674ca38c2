"""TS: a complaint against a service, which holds its charges until it is resolved."""

from __future__ import annotations

from vasguard.domain.events import Cause, Event
from vasguard.services.turn import Turn
from vasguard.store.subscriptions import Held


def open_complaint(turn: Turn, held: Held, text: str) -> str:
    """Register the complaint, reply with its ticket, and return the ticket."""
    complaint_id, ticket = turn.uow.complaints.open(
        subscriber_id=turn.subscriber.id,
        province=turn.subscriber.province,
        subscription_id=held.subscription_id,
        provider_id=held.provider_id,
        text=text or turn.text,
        mo_id=turn.mo_id,
        at=turn.at,
    )
    turn.uow.events.add(
        Event(
            turn.subscriber.id,
            turn.subscriber.province,
            "complaint",
            complaint_id,
            "opened",
            Cause.mo(turn.mo_id),
            turn.at,
            {"ticket": ticket, "subscription": held.subscription_id, "service": held.service_code},
        )
    )
    turn.reply(turn.templates.complaint_registered(service=held.service_name, ticket=ticket))
    return ticket
