"""MO intake: every channel's MOs are stored, acted on and committed here.

An MO is stored before anything acts on it and committed with its effects before the
SMSC can be acknowledged (invariant 6); the same SMSC id seen again is answered with
nothing. What each command does is ``services.dialogue``'s business.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.clock import Clock
from vasguard.domain.commands import parse
from vasguard.domain.group_commit import transactions
from vasguard.domain.msisdn import InvalidMsisdn, normalise
from vasguard.domain.segmentation import choose_encoding
from vasguard.services.deployment import Deployment, templates_for
from vasguard.services.dialogue import act
from vasguard.services.handled_mo import HandledMo
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
    handled = HandledMo(
        uow, deployment, subscriber, mo_id, text, at, templates_for(deployment, subscriber)
    )
    if rng is not None:
        handled.rng = rng
    act(handled, parse(text, deployment.keywords))
    return MoResult(mo_id, duplicate=False, replies=handled.replies)
