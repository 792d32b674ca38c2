"""TS: a complaint against a service, which holds its charges until it is resolved."""

from __future__ import annotations

from vasguard.domain.events import Cause, Event
from vasguard.domain.subscription import NamedSubscription
from vasguard.services.handled_mo import HandledMo


def open_complaint(mo: HandledMo, held: NamedSubscription, text: str) -> str:
    """Register the complaint, reply with its ticket, and return the ticket."""
    complaint_id, ticket = mo.uow.complaints.open(
        subscriber_id=mo.subscriber.id,
        province=mo.subscriber.province,
        subscription_id=held.subscription_id,
        provider_id=held.provider_id,
        text=text or mo.text,
        mo_id=mo.id,
        at=mo.at,
        zone=mo.deployment.timezone,
    )
    mo.uow.events.add(
        Event(
            mo.subscriber.id,
            mo.subscriber.province,
            "complaint",
            complaint_id,
            "opened",
            Cause.mo(mo.id),
            mo.at,
            {"ticket": ticket, "subscription": held.subscription_id, "service": held.service_code},
        )
    )
    mo.reply(mo.templates.complaint_registered(service=held.service_name, ticket=ticket))
    return ticket
