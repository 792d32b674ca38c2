"""Cancelling subscriptions from an MO: one place that ends them, records why, and says so."""

from __future__ import annotations

from collections.abc import Sequence

from vasguard.domain.events import Cause, Event
from vasguard.domain.subscription import State, can_move
from vasguard.domain.templates import Cancellation
from vasguard.services.turn import Turn
from vasguard.store.subscriptions import Held


def cancel_held(turn: Turn, held: Sequence[Held], *, cause: str) -> None:
    """Cancel what is still open among ``held`` and reply naming every service.

    Items already ended are named as such; nothing else about them changes.
    """
    done: list[Cancellation] = []
    already: list[str] = []
    for item in held:
        if not can_move(item.state, State.CANCELLED) or not turn.uow.subscriptions.cancel(
            item.subscription_id, at=turn.at, cause=cause, message_id=turn.mo_id
        ):
            already.append(item.service_name)
            continue
        turn.uow.events.add(
            Event(
                turn.subscriber.id,
                turn.subscriber.province,
                "subscription",
                item.subscription_id,
                "cancelled",
                Cause.mo(turn.mo_id),
                turn.at,
                {"service": item.service_code, "via": cause, "charged": item.charged},
            )
        )
        done.append(Cancellation(item.service_name, item.charged))
    t = turn.templates
    if done:
        turn.reply(t.cancelled(done))
    if already:
        turn.reply(t.already_cancelled(already))
