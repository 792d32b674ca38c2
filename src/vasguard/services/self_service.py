"""The customer's own page: what they hold, and cancelling it themselves.

The page lists exactly what a 0000 would (``domain.listing``: active monthly services
not included in the plan, numbered the same way) but stores no listing: the numbers an
SMS reply refers to belong to the latest 0000, and looking at a web page must not
change what a ``1`` sent afterwards means. A cancellation goes through the same ending
as the SMS path's (``services.cancellation``): the same guard, event and voiding; its
cause names the login, which names the number and the code that opened it, and the
handset is told by SMS at once, as an SMS cancellation is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vasguard.domain.clock import Clock
from vasguard.domain.customer_login import CustomerSession
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.listing import number_items
from vasguard.domain.refusals import RefusedBecause
from vasguard.domain.subscription import EndCause
from vasguard.services.cancellation import Ending, end_subscriptions, tell_cancelled
from vasguard.services.deployment import Deployment
from vasguard.services.unit_of_work import UnitOfWork


class ChoiceRefusal(StrEnum):
    NOTHING_CHOSEN = "nothing_chosen"
    NOT_LISTED = "not_listed"


class ChoiceRefused(RefusedBecause[ChoiceRefusal]):
    pass


@dataclass(frozen=True, slots=True)
class HeldService:
    """One line of the page's list, as 0000 would number it."""

    number: int
    subscription_id: int
    service: str
    provider: str
    price_fen: int
    group_service: bool


@dataclass(frozen=True, slots=True)
class SelfCancelled:
    cancelled: list[str]
    already_ended: list[str]


def held_services(uow: UnitOfWork, clock: Clock, session: CustomerSession) -> list[HeldService]:
    with uow:
        return _listed(uow, session, clock)


def _listed(uow: UnitOfWork, session: CustomerSession, clock: Clock) -> list[HeldService]:
    items = number_items(uow.subscriptions.listing_candidates(session.subscriber_id, clock.now()))
    return [
        HeldService(
            i.number,
            i.candidate.subscription_id,
            i.candidate.service_name,
            i.candidate.provider_name,
            i.candidate.price_fen,
            i.candidate.group_service,
        )
        for i in items
    ]


def chosen_services(
    uow: UnitOfWork, clock: Clock, session: CustomerSession, subscription_ids: Sequence[int]
) -> list[HeldService]:
    """The listed services among ``subscription_ids`` (the confirmation step's list);
    refused when nothing is chosen or a choice is not on the list."""
    with uow:
        return _chosen(_listed(uow, session, clock), subscription_ids)


def _chosen(listed: list[HeldService], subscription_ids: Sequence[int]) -> list[HeldService]:
    wanted = set(subscription_ids)
    if not wanted:
        raise ChoiceRefused(ChoiceRefusal.NOTHING_CHOSEN, "choose at least one service")
    chosen = [h for h in listed if h.subscription_id in wanted]
    if len(chosen) != len(wanted):
        raise ChoiceRefused(
            ChoiceRefusal.NOT_LISTED,
            "a chosen service is no longer on your list (cancelled meanwhile?); nothing "
            "was changed: look at the list again",
        )
    return chosen


def cancel_services(
    uow: UnitOfWork,
    clock: Clock,
    deployment: Deployment,
    session: CustomerSession,
    subscription_ids: Sequence[int],
) -> SelfCancelled:
    """Cancel the chosen services, all or none: every choice must still be listed."""
    at = clock.now()
    with uow:
        subscriber = uow.subscribers.by_id(session.subscriber_id)
        assert subscriber is not None, "a login's subscriber is never deleted"
        chosen = _chosen(_listed(uow, session, clock), subscription_ids)
        held = uow.subscriptions.named(subscriber.id, [h.subscription_id for h in chosen])
        ending = Ending(
            uow,
            subscriber,
            at,
            Cause(CauseKind.CUSTOMER, f"login:{session.id}"),
            EndCause.SELF_SERVICE,
            deployment.timezone,
        )
        done, already = end_subscriptions(ending, held)
        if done:
            # The handset gets what an SMS cancellation would have replied, at once: the
            # customer is there asking, and a cancellation they did not make shows up.
            tell_cancelled(uow, deployment, subscriber, done, at)
        uow.commit()
    return SelfCancelled(
        [e.subscription.service_name for e in done], [h.service_name for h in already]
    )
