"""MO intake: every channel's MOs are stored, acted on and committed here.

An MO is stored before anything acts on it and committed with its effects before the
SMSC can be acknowledged (invariant 6); the same SMSC id seen again is answered with
nothing. An MO from a number that is not ours, or to a number that is not the service
number or one of its sub-ports, is stored and refused: nothing else changes. What each
command does is ``services.dialogue``'s business.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from vasguard.domain.catalogue import MOVING, SubscriberMoving, UnknownSubscriber
from vasguard.domain.clock import Clock
from vasguard.domain.commands import parse
from vasguard.domain.group_commit import transactions
from vasguard.domain.messages import NewMo
from vasguard.domain.msisdn import InvalidMsisdn, normalise
from vasguard.domain.refusals import Refused, TryLater
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.dialogue import act
from vasguard.services.handled_mo import HandledMo
from vasguard.services.shards import Router
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class WrongDestination(Refused):
    """An MO to a number this platform does not answer for (a misrouted MO)."""

    code = "wrong_destination"

    def __init__(self, to: str, deployment: Deployment) -> None:
        ours = ", ".join(sorted(deployment.numbers))
        super().__init__(
            f"{to!r} is not the service number or one of its sub-ports ({ours}); the MO is "
            "stored and nothing was done"
        )
        self.to = to


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


# What taking one MO comes to: its result, or the refusal to give the channel.
Taken = MoResult | Refused


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
    a redelivery of the same SMSC id acts on it then. Raises a ``Refused`` (the MO is
    stored, nothing else changed) for an unknown sender or a wrong destination, and a
    ``TryLater`` (nothing stored) for a sender being moved between shards.
    """
    mo = _new_mo(IncomingMo(msisdn, to, text, smsc_message_id), clock)
    result = _receive_one(uow, deployment, mo, rng)
    if isinstance(result, Refused):
        raise result
    return result


def _receive_one(
    uow: UnitOfWork, deployment: Deployment, mo: NewMo, rng: random.Random | None
) -> Taken:
    with uow:
        try:
            result = _take(uow, deployment, mo, rng)
            uow.commit()
        except TryLater:
            uow.rollback()
            raise
        except Exception:
            uow.rollback()
            uow.messages.receive(mo, handled_at=None)
            uow.commit()
            raise
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
    stored: dict[int, NewMo] = {}
    for n, incoming in enumerate(mos):
        try:
            stored[n] = _new_mo(incoming, clock)
        except InvalidMsisdn as refused:
            results[n] = refused
    positions = list(stored)
    for run in transactions([stored[n].msisdn for n in positions]):
        taken_at = [positions[p] for p in run]
        taken = _together(new_uow, deployment, [stored[n] for n in taken_at], rng)
        results.update(zip(taken_at, taken, strict=True))
    return [results[n] for n in range(len(mos))]


def receive_routed(
    router: Router,
    clock: Clock,
    deployment: Deployment,
    mos: Sequence[IncomingMo],
    *,
    rng: random.Random | None = None,
) -> list[MoResult | Exception]:
    """``receive_mos`` with each MO on its sender's shard: the MOs of a shard share its
    transactions, and no shard waits for another's. Each sender's shard is looked up once
    (a ported number's costs a national read). Results in the MOs' order."""
    by_shard: dict[str | None, list[int]] = {}
    for n, mo in enumerate(mos):
        by_shard.setdefault(router.shard_of(mo.msisdn), []).append(n)
    results: dict[int, MoResult | Exception] = {}
    for shard, positions in by_shard.items():
        on_shard = partial(router.uow_on, shard)
        taken = receive_mos(on_shard, clock, deployment, [mos[n] for n in positions], rng=rng)
        results.update(zip(positions, taken, strict=True))
    return [results[n] for n in range(len(mos))]


def _together(
    new_uow: Callable[[], UnitOfWork],
    deployment: Deployment,
    mos: list[NewMo],
    rng: random.Random | None,
) -> list[MoResult | Exception]:
    try:
        with new_uow() as uow:
            taken: list[MoResult | Exception] = [_take(uow, deployment, mo, rng) for mo in mos]
            uow.commit()
    except Exception:
        return [_alone(new_uow(), deployment, mo, rng) for mo in mos]
    return taken


def _alone(
    uow: UnitOfWork, deployment: Deployment, mo: NewMo, rng: random.Random | None
) -> MoResult | Exception:
    try:
        return _receive_one(uow, deployment, mo, rng)
    except TryLater as later:
        return later
    except Exception as failed:
        log.exception("MO %s from %s stored but not handled", mo.smsc_message_id, mo.msisdn)
        return failed


def _new_mo(incoming: IncomingMo, clock: Clock) -> NewMo:
    return NewMo(
        msisdn=normalise(incoming.msisdn),
        service_number=incoming.to,
        text=NewMo.clean(incoming.text),
        smsc_message_id=incoming.smsc_message_id,
        created_at=clock.now(),
    )


def _take(uow: UnitOfWork, deployment: Deployment, mo: NewMo, rng: random.Random | None) -> Taken:
    """Store one MO and act on it inside ``uow``, or say why it is refused."""
    at = mo.created_at
    received = uow.messages.receive(mo, handled_at=at)
    if received is not None:
        mo_id, subscriber = received.mo_id, received.sender
    else:
        assert mo.smsc_message_id is not None, "only an SMSC id can make an MO a duplicate"
        stored = uow.messages.mo_by_smsc_id(mo.smsc_message_id)
        if stored is None or stored.handled_at is not None:
            return MoResult(stored.id if stored else None, duplicate=True)
        mo_id = stored.id
        uow.messages.mark_handled(mo_id, at)
        subscriber = uow.subscribers.by_msisdn(mo.msisdn)
    if subscriber is not None and subscriber.status == MOVING:
        raise SubscriberMoving(mo.msisdn)  # not even stored: the SMSC sends it again
    if not deployment.accepts(mo.service_number):
        return WrongDestination(mo.service_number, deployment)
    if subscriber is None:
        return UnknownSubscriber(mo.msisdn)
    handled = HandledMo(
        uow, deployment, subscriber, mo_id, mo.text, at, templates_for(deployment, subscriber)
    )
    if rng is not None:
        handled.rng = rng
    act(handled, parse(mo.text, deployment.keywords))
    return MoResult(mo_id, duplicate=False, replies=handled.replies)
