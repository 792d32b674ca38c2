"""Sending what is queued, part by part, and applying what the SMSC says about it.

The rules (invariant 11) live here; a transport only submits:

1. ``claim`` cuts due MTs into parts (written on first claim, so queuing a reply stays
   one batched insert) and claims up to ``limit`` due parts for one sender, for a lease.
   Concurrent senders never get the same part (see ``store.outbox``).
2. The sender submits them, and ``settle`` records what each submit came to. The SMSC
   ids come first, in their own commit: a part with a stored id is never submitted
   again, across restarts. Then, in a second transaction: MTs whose every part is now
   submitted become ``sent``; throttled parts wait (``mt_parts.throttle_delay``); a part
   refused for good fails, with its message; a part whose outcome is unknown is sent
   again when its lease runs out (``mt_parts``, module doc); receipts that came before
   their part's id are applied.
3. ``record_receipts`` applies final receipts by SMSC id. A receipt whose id no part has
   yet is kept and applied when the id is stored. An MT is ``delivered`` (with
   ``receipt_status``/``receipt_at``, which the charging rule reads) when every part is,
   and ``failed`` as soon as one part's receipt says so.

``flush`` runs 1 and 2 synchronously for the loopback SMSC, the CLI and tests; the SMPP
engine runs the same steps from asyncio, with the database work in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, CauseKind, Event
from vasguard.domain.messages import Receipt
from vasguard.domain.mt_parts import (
    MAX_UNKNOWN_ATTEMPTS,
    Claim,
    NotSent,
    Outgoing,
    Rejected,
    SubmitOutcome,
    Submitted,
    Throttled,
    Unknown,
    cut,
    throttle_delay,
)
from vasguard.services.unit_of_work import UnitOfWork
from vasguard.store.outbox import SettledMessage

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
"""How long a claim holds a part: well over a submit's worst case (a full window and the
response timeout), so only a sender that died loses its parts to another."""

__all__ = [
    "DEFAULT_LEASE",
    "Outgoing",
    "PartRefused",
    "Receipt",
    "Settled",
    "Transport",
    "claim",
    "flush",
    "forget_unmatched",
    "outbox_depth",
    "record_receipt",
    "record_receipts",
    "settle",
]


class PartRefused(Exception):
    """What a synchronous transport raises when the SMSC refused a part: ``retryable``
    for a busy SMSC (the part is sent again later), otherwise the part and its MT fail
    with ``status``."""

    def __init__(self, status: str, *, retryable: bool) -> None:
        super().__init__(f"SMSC refused the part: {status}")
        self.status = status
        self.retryable = retryable


class Transport(Protocol):
    """Where MT parts go synchronously: the loopback SMSC, a test's counting SMSC."""

    def submit(self, part: Outgoing) -> str:
        """Hand one part to the SMSC and return the SMSC's message id; ``PartRefused``
        when the SMSC says no. Any other exception counts as an unknown outcome."""
        ...


@dataclass(frozen=True, slots=True)
class Settled:
    """What one ``settle`` did, for metrics and logs."""

    submitted: int = 0
    sent: int = 0
    """MTs whose last part this settled: now ``sent``."""
    throttled: int = 0
    failed: int = 0
    unknown: int = 0
    not_sent: int = 0
    duplicates: int = 0


def claim(
    uow: UnitOfWork,
    clock: Clock,
    owner: str,
    *,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    whole: bool = False,
) -> list[Outgoing]:
    """Cut due MTs into parts and claim up to ``limit`` due parts for ``owner``, in
    message then part order; committed before this returns. ``whole``: an MT not cut yet
    is one part, its whole text (for a transport that sends it so: SMPP's
    ``message_payload``)."""
    at = clock.now()
    with uow:
        outbox = uow.messages.outbox
        rows: list[dict[str, Any]] = []
        for mt in outbox.uncut_due(at, limit):
            parts = (mt.text,) if whole else cut(mt.text, reply=mt.reply).parts
            rows.extend(
                {
                    "message_id": mt.id,
                    "subscriber_id": mt.subscriber_id,
                    "province": mt.province,
                    "number": number,
                    "parts": len(parts),
                    "text": text,
                    "state": "queued",
                    "attempts": 0,
                    "next_attempt_at": at,
                }
                for number, text in enumerate(parts, start=1)
            )
        outbox.add_parts(rows)
        claimed = outbox.claim(Claim(owner, lease, at), limit)
        uow.commit()
    return claimed


def settle(
    uow: UnitOfWork,
    clock: Clock,
    outcomes: Sequence[SubmitOutcome],
    *,
    lease: timedelta = DEFAULT_LEASE,
) -> Settled:
    """Record what submitting claimed parts came to (see the module doc, step 2)."""
    at = clock.now()
    submitted = [o for o in outcomes if isinstance(o, Submitted)]
    with uow:
        outbox = uow.messages.outbox
        stored = outbox.store_submitted(submitted, at)
        uow.commit()  # the SMSC ids before anything else
        sent = outbox.mark_sent([o.part.message_id for o in submitted], at)
        failed: list[SettledMessage] = []
        unknown = 0
        for outcome in outcomes:
            match outcome:
                case Throttled(part=part, status=status):
                    outbox.release(part, at + throttle_delay(part.attempts), status, sent=True)
                case Rejected():
                    failed.extend(_fail(outbox.reject(outcome, at)))
                case Unknown(part=part, reason=reason):
                    unknown += 1
                    if part.attempts >= MAX_UNKNOWN_ATTEMPTS:
                        log.error(
                            "MT %d part %d: no answer to %d submits (%s); failing it",
                            part.message_id,
                            part.number,
                            part.attempts,
                            reason,
                        )
                        failed.extend(_fail(outbox.reject(Rejected(part, "OUTCOME_UNKNOWN"), at)))
                    else:
                        outbox.release(part, at + lease, "OUTCOME_UNKNOWN", sent=True)
                case NotSent(part=part):
                    outbox.release(part, at, None, sent=False)
        # Receipts that came before their part's id: applied in the transaction that
        # takes them, so none is lost between the two.
        early = outbox.settle_parts(outbox.take_unmatched([o.smsc_message_id for o in submitted]))
        _events(uow, failed, at, failed="send_failed")
        uow.commit()
        if sent or early:
            # An MT may be settled now: its last part's receipt came early, or settled a
            # part between the two commits above and found the MT not yet sent (the
            # receipt looks again after its own commit, so one of the two sees both).
            ids = [o.part.message_id for o in submitted] + list(early.values())
            _events(uow, outbox.settle_messages(ids, at), at)
            uow.commit()
    return Settled(
        submitted=stored,
        sent=sent,
        throttled=sum(isinstance(o, Throttled) for o in outcomes),
        failed=sum(isinstance(o, Rejected) for o in outcomes),
        unknown=unknown,
        not_sent=sum(isinstance(o, NotSent) for o in outcomes),
        duplicates=len(submitted) - stored,
    )


def _fail(message: SettledMessage | None) -> list[SettledMessage]:
    return [] if message is None else [message]


def record_receipts(uow: UnitOfWork, receipts: Sequence[Receipt]) -> int:
    """Apply final receipts; how many matched a part (or a pre-parts MT) now. The rest
    are kept and applied once their SMSC id is stored; a repeated receipt changes
    nothing. Committed before this returns, so the SMSC may be acknowledged then."""
    if not receipts:
        return 0
    with uow:
        outbox = uow.messages.outbox
        settled = outbox.settle_parts(receipts)
        legacy: list[SettledMessage] = []
        waiting: list[Receipt] = []
        rest = [r for r in receipts if r.smsc_message_id not in settled]
        repeated = outbox.settled_ids([r.smsc_message_id for r in rest])
        for receipt in rest:
            if receipt.smsc_message_id in repeated:
                continue
            old = uow.messages.apply_receipt(receipt.smsc_message_id, receipt.delivered, receipt.at)
            if old is not None:
                status = "delivered" if receipt.delivered else "failed"
                legacy.append(SettledMessage(old.id, old.subscriber_id, old.province, status))
            else:
                waiting.append(receipt)
        outbox.keep_unmatched(waiting)
        at = max(r.at for r in receipts)
        _events(uow, legacy, at)
        uow.commit()
        matched = len(settled) + len(legacy)
        if waiting:
            # The part's id may have been stored while this receipt was being kept; the
            # sender looks for kept receipts only after storing ids, so one of the two sees
            # the other (both look after their own commit).
            late = outbox.settle_parts(outbox.take_unmatched([r.smsc_message_id for r in waiting]))
            uow.commit()
            settled.update(late)
        if settled:
            _events(uow, outbox.settle_messages(list(settled.values()), at), at)
            uow.commit()
    return matched


def _events(
    uow: UnitOfWork,
    messages: Sequence[SettledMessage],
    at: datetime,
    failed: str = "delivery_failed",
) -> None:
    """An event per MT settled: ``delivered``, or ``failed`` (a receipt's failure, or
    ``send_failed`` for a refusal)."""
    for message in messages:
        _event(uow, message, at, "delivered" if message.status == "delivered" else failed)


def _event(uow: UnitOfWork, message: SettledMessage, at: datetime, kind: str) -> None:
    detail = {"reason": message.reason} if message.reason else {}
    uow.events.add(
        Event(
            message.subscriber_id,
            message.province,
            "message",
            message.id,
            kind,
            Cause(CauseKind.API, "smsc"),
            at,
            detail,
        )
    )


UNMATCHED_KEPT = timedelta(days=3)
"""How long a receipt waits for its part's id: far beyond any submit_sm_resp's delay, so
only receipts for ids that will never be stored (the response was lost) are dropped."""


def forget_unmatched(uow: UnitOfWork, clock: Clock, kept: timedelta = UNMATCHED_KEPT) -> int:
    """Drop receipts kept longer than ``kept`` without their part; how many (logged)."""
    with uow:
        dropped = uow.messages.outbox.forget_unmatched(clock.now() - kept)
        uow.commit()
    if dropped:
        log.warning(
            "%d delivery receipts never matched an MT part within %s; dropped", dropped, kept
        )
    return dropped


def outbox_depth(uow: UnitOfWork, clock: Clock) -> int:
    """MTs queued and due now (the sender's metric)."""
    with uow:
        return uow.messages.outbox.depth(clock.now())


def record_receipt(uow: UnitOfWork, receipt: Receipt) -> bool:
    """One receipt (see ``record_receipts``); whether it matched an MT part now."""
    return record_receipts(uow, [receipt]) > 0


def flush(
    uow: UnitOfWork,
    clock: Clock,
    transport: Transport,
    *,
    chunk: int = 500,
    owner: str = "flush",
    lease: timedelta = DEFAULT_LEASE,
) -> int:
    """Submit every due MT part through ``transport``, ``chunk`` parts per claim, until
    none is due; how many MTs became ``sent`` (all their parts taken). ``uow`` is
    entered once per transaction, so several threads may flush one outbox at once, each
    with its own."""
    total = 0
    while parts := claim(uow, clock, owner, limit=chunk, lease=lease):
        outcomes = [_submit(transport, part) for part in parts]
        total += settle(uow, clock, outcomes, lease=lease).sent
        if all(isinstance(o, Throttled | Unknown) for o in outcomes):
            break  # nothing more can go out now; what was refused is due again later
    return total


def _submit(transport: Transport, part: Outgoing) -> SubmitOutcome:
    try:
        return Submitted(part, transport.submit(part))
    except PartRefused as refused:
        if refused.retryable:
            return Throttled(part, refused.status)
        return Rejected(part, refused.status)
    except Exception as exc:
        log.exception("transport failed on MT %d part %d", part.message_id, part.number)
        return Unknown(part, f"{type(exc).__name__}: {exc}")
