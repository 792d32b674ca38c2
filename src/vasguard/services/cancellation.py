"""Cancelling subscriptions from an MO: one place that ends them, records why, and says so."""

from __future__ import annotations

from collections.abc import Sequence

from vasguard.domain.events import Cause, Event
from vasguard.domain.subscription import NamedSubscription, State, can_move
from vasguard.domain.templates import Cancellation
from vasguard.services.handled_mo import HandledMo


def cancel_held(mo: HandledMo, held: Sequence[NamedSubscription], *, cause: str) -> None:
    """Cancel what is still open among ``held`` and reply naming every service.

    Items already ended are named as such; nothing else about them changes.
    """
    done: list[Cancellation] = []
    already: list[str] = []
    for item in held:
        if not can_move(item.state, State.CANCELLED) or not mo.uow.subscriptions.cancel(
            item.subscription_id, at=mo.at, cause=cause, message_id=mo.id
        ):
            already.append(item.service_name)
            continue
        mo.uow.events.add(
            Event(
                mo.subscriber.id,
                mo.subscriber.province,
                "subscription",
                item.subscription_id,
                "cancelled",
                Cause.mo(mo.id),
                mo.at,
                {"service": item.service_code, "via": cause, "charged": item.charged},
            )
        )
        done.append(Cancellation(item.service_name, item.charged))
    t = mo.templates
    if done:
        mo.reply(t.cancelled(done))
    if already:
        mo.reply(t.already_cancelled(already))
