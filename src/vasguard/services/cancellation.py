"""Cancelling subscriptions from an MO: one place that ends them, records why, and says so.

Ending a subscription also voids, in the same transaction, its charges for periods it was
never in service for (invariant 10): a bill run made early may already have charged next
month, and the reply's "no further charges" must stay true.
"""

from __future__ import annotations

from collections.abc import Sequence

from vasguard.domain.events import Cause, Event
from vasguard.domain.refunds import voided_by_ending
from vasguard.domain.subscription import EndCause, NamedSubscription, State, can_move
from vasguard.domain.templates import Cancellation
from vasguard.services.handled_mo import HandledMo
from vasguard.services.resolutions import add_refund


def cancel_held(mo: HandledMo, held: Sequence[NamedSubscription], *, cause: EndCause) -> None:
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
        # Only a subscription ever charged can have a charge to void.
        voided = _void_unserved(mo, item.subscription_id) if item.charged else []
        mo.uow.events.add(
            Event(
                mo.subscriber.id,
                mo.subscriber.province,
                "subscription",
                item.subscription_id,
                "cancelled",
                Cause.mo(mo.id),
                mo.at,
                {
                    "service": item.service_code,
                    "via": cause,
                    "charged": item.charged,
                    "voided": voided,
                },
            )
        )
        done.append(Cancellation(item.service_name, item.charged))
    t = mo.templates
    if done:
        mo.reply(t.cancelled(done))
    if already:
        mo.reply(t.already_cancelled(already))


def _void_unserved(mo: HandledMo, subscription_id: int) -> list[int]:
    """Refund in full the charges of periods beginning at or after the ending; the ids of
    the charges voided."""
    scope = voided_by_ending(mo.subscriber.id, subscription_id, mo.at, mo.deployment.timezone)
    if scope is None:
        return []
    made = [
        add_refund(mo.uow, charge, charge.amount_fen, None, Cause.mo(mo.id), mo.at, event="voided")
        for charge in mo.uow.resolutions.unrefunded(scope)
    ]
    return [r.charge_id for r in made if r is not None]
