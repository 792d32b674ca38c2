"""The deliver_sm handler of the SMPP engine: receipts to the outbox, MOs to the intake,
concatenated parts kept until their message is complete; one status per deliver_sm.

The statuses say what the SMSC should do (and the link sends each only after this
returned, so after the commit: invariant 6):

* ESME_ROK - committed: a receipt applied or kept, an MO taken (acted on, a duplicate, or
  refused but stored: an unknown sender or a wrong destination would be refused again),
  a part of a concatenated MO stored.
* ESME_RX_T_APPN - not committed: the MO's transaction failed (it may be stored,
  unhandled), or its sender is being moved between shards (nothing stored), so the SMSC
  redelivers it and the intake acts on it then; sharded, also a receipt or a part whose
  shard failed (the other shards' deliver_sm do not wait for it). Anything that
  raises here gets the whole batch this status (the link's rule).
* ESME_RX_P_APPN - unreadable (an alphabet not read here, a receipt without an id):
  a redelivery would be just as unreadable; it is logged with the sender.

MOs of one batch, whole and reassembled, go to the intake in one call, grouped by their
senders' shards (group commit per shard, ``services.intake.receive_routed``); each part of
a concatenated MO is kept on its sender's shard, where the message is reassembled, and
the sweep runs on every database holding parts. A receipt goes to the shard its part
was submitted from (``submitted``, ``services.routed_receipts``). Unsharded, all of this
is the one database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from vasguard.channels.metrics import MOS, MTS, RECEIPTS
from vasguard.channels.smpp.databases import Databases
from vasguard.channels.smpp.mo import (
    Inbound,
    PartMo,
    ReceiptIn,
    Unreadable,
    WholeMo,
    classify,
    incomplete_text,
    whole_text,
)
from vasguard.channels.smpp.pdus import DeliverSm
from vasguard.channels.smpp.status import Status
from vasguard.channels.smpp.submitted import SubmittedIds
from vasguard.channels.smpp.text import UnreadableText
from vasguard.domain.clock import Clock
from vasguard.domain.concatenation import DEFAULT_TIMEOUT, Fragment, FragmentSet
from vasguard.domain.messages import Receipt
from vasguard.domain.mo_ids import MoIds
from vasguard.domain.receipts import as_receipt
from vasguard.domain.refusals import Refused, TryLater
from vasguard.services import concatenation
from vasguard.services.deployment import Deployment
from vasguard.services.intake import IncomingMo, MoResult, receive_routed
from vasguard.services.outbox import forget_unmatched
from vasguard.services.routed_receipts import record_on_shards
from vasguard.services.shards import Router, UowFactory
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger("vasguard.channels.smpp")

# Told after each batch is committed, on the event loop, with the shards its MOs were
# taken on: their replies are queued there.
Committed = Callable[[Collection[str | None]], None]


@dataclass(slots=True)
class _BatchRouter:
    """A ``Router`` that looks each sender's shard up once for one batch (a ported
    number's costs a national read), for its parts and its MOs alike."""

    router: Router
    seen: dict[str, str | None] = field(default_factory=dict)

    def shard_of(self, msisdn: str) -> str | None:
        if msisdn not in self.seen:
            self.seen[msisdn] = self.router.shard_of(msisdn)
        return self.seen[msisdn]

    def uow_on(self, shard: str | None) -> UnitOfWork:
        return self.router.uow_on(shard)


@dataclass(frozen=True, slots=True)
class _Done:
    statuses: list[int]
    taken_on: set[str | None]
    receipt_shards: dict[str, str]


class Deliveries:
    """``await deliveries(batch)`` is a ``DeliverHandler``; the database work runs in a
    thread, so the event loop keeps serving every bind meanwhile."""

    def __init__(
        self,
        databases: Databases,
        clock: Clock,
        deployment: Deployment,
        *,
        submitted: SubmittedIds | None = None,
        receipt_wait: float = 1.0,
        mo_ids: MoIds | None = None,
        fragment_timeout: timedelta = DEFAULT_TIMEOUT,
        committed: Committed | None = None,
    ) -> None:
        self._databases = databases
        self._submitted = submitted or SubmittedIds()
        # How long a receipt of an id not known yet waits for the submits in flight.
        self._receipt_wait = receipt_wait
        self._committed = committed
        self._clock = clock
        self._deployment = deployment
        self._mo_ids = mo_ids or MoIds()
        self.fragment_timeout = fragment_timeout

    async def __call__(self, batch: Sequence[DeliverSm]) -> list[int]:
        now = self._clock.now()
        items = [classify(pdu, self._mo_ids, now) for pdu in batch]
        known = await self._receipt_shards(items)
        done = await asyncio.to_thread(self._commit, items, known)
        self._submitted.remember(done.receipt_shards)
        if self._committed is not None:
            self._committed(done.taken_on)
        return done.statuses

    async def _receipt_shards(self, items: Sequence[Inbound]) -> dict[str, str]:
        """The shard each receipt's part was submitted from, as far as this process knows
        (nothing to know with one shard)."""
        ids = [item.report.smsc_message_id for item in items if isinstance(item, ReceiptIn)]
        if not ids or len(self._databases.shards) == 1:
            return {}
        unknown = set(ids) - self._submitted.shards_of(ids).keys()
        if unknown:  # perhaps a receipt ahead of its submit_sm_resp: that comes at once
            await self._submitted.wait_for(unknown, self._receipt_wait)
        return self._submitted.shards_of(ids)

    def _commit(self, items: Sequence[Inbound], known: Mapping[str, str]) -> _Done:
        statuses = [int(Status.ESME_ROK)] * len(items)
        receipts: list[Receipt] = []
        now = self._clock.now()
        for n, item in enumerate(items):
            match item:
                case ReceiptIn(report=report):
                    RECEIPTS.labels(status=report.stat).inc()
                    receipt = as_receipt(report, now)
                    if receipt is not None:
                        receipts.append(receipt)
                        MTS.labels(state="delivered" if receipt.delivered else "undelivered").inc()
                case Unreadable(reason=reason):
                    log.warning("deliver_sm not read: %s; answering ESME_RX_P_APPN", reason)
                    statuses[n] = Status.ESME_RX_P_APPN
        routed = record_on_shards(self._databases.shards, receipts, known)
        for n, item in enumerate(items):
            if isinstance(item, ReceiptIn) and item.report.smsc_message_id in routed.failed:
                statuses[n] = Status.ESME_RX_T_APPN
        router = _BatchRouter(self._databases.router)
        mos: list[IncomingMo] = []
        owners: list[list[int]] = []
        fragments = [(n, item.fragment) for n, item in enumerate(items) if isinstance(item, PartMo)]
        stored, failed = self._keep_fragments(router, [f for _, f in fragments])
        for n, fragment in fragments:
            if router.shard_of(fragment.key.sender) in failed:
                statuses[n] = Status.ESME_RX_T_APPN
        for fragment_set in stored:
            if not fragment_set.complete:
                continue
            mine = [n for n, f in fragments if f.key == fragment_set.key]
            try:
                mos.append(_reassembled(fragment_set))
            except UnreadableText as exc:
                log.warning("concatenated MO not read: %s", exc)
                continue
            owners.append(mine)
        for n, item in enumerate(items):
            if isinstance(item, WholeMo):
                mos.append(item.mo)
                owners.append([n])
        for result, positions in zip(self._take(router, mos), owners, strict=True):
            for n in positions:
                statuses[n] = result
        taken_on = {router.shard_of(mo.msisdn) for mo in mos}
        return _Done(statuses, taken_on, routed.shards)

    def _keep_fragments(
        self, router: Router, fragments: Sequence[Fragment]
    ) -> tuple[list[FragmentSet], set[str | None]]:
        """Store parts on their senders' shards; the sets they belong to, as stored now,
        and the shards that failed to store theirs (those parts come again)."""
        by_shard: dict[str | None, list[Fragment]] = {}
        for fragment in fragments:
            by_shard.setdefault(router.shard_of(fragment.key.sender), []).append(fragment)
        if len(by_shard) == 1 and len(self._databases.shards) == 1:  # unsharded: as it was
            [(shard, on_shard)] = by_shard.items()
            return concatenation.keep_fragments(router.uow_on(shard), self._clock, on_shard), set()
        stored: list[FragmentSet] = []
        failed: set[str | None] = set()
        for shard, on_shard in by_shard.items():
            try:
                stored += concatenation.keep_fragments(router.uow_on(shard), self._clock, on_shard)
            except Exception:
                log.exception("%d MO parts not stored on shard %s", len(on_shard), shard)
                failed.add(shard)
        return stored, failed

    def _take(self, router: Router, mos: Sequence[IncomingMo]) -> list[int]:
        """The intake's verdict on each MO, as a deliver_sm_resp status."""
        if not mos:
            return []
        statuses = []
        for result in receive_routed(router, self._clock, self._deployment, mos):
            if isinstance(result, MoResult):
                MOS.labels(outcome="duplicate" if result.duplicate else "handled").inc()
                statuses.append(int(Status.ESME_ROK))
            elif isinstance(result, TryLater):  # nothing stored: the SMSC redelivers it
                MOS.labels(outcome="deferred").inc()
                statuses.append(int(Status.ESME_RX_T_APPN))
            elif isinstance(result, Refused):
                MOS.labels(outcome="refused").inc()
                statuses.append(int(Status.ESME_ROK))
            else:
                MOS.labels(outcome="not_handled").inc()
                statuses.append(int(Status.ESME_RX_T_APPN))
        return statuses

    async def sweep(self) -> int:
        """On every database holding parts: settle concatenated MOs past their timeout
        (see ``services.concatenation``) and drop receipts that never found their part;
        how many sets were settled. A database that fails is logged and swept next time;
        the others are swept now."""
        return await asyncio.to_thread(self._sweep)

    def _sweep(self) -> int:
        settled = 0
        for shard, new_uow in self._databases.holding_parts().items():
            try:
                settled += self._sweep_one(new_uow)
            except Exception:
                log.exception("sweeping concatenated MOs on shard %s failed", shard or "national")
        return settled

    def _sweep_one(self, new_uow: UowFactory) -> int:
        forget_unmatched(new_uow(), self._clock)
        expired = concatenation.sweep(new_uow(), self._clock, self.fragment_timeout)
        complete = [s for s in expired if s.complete]
        readable = []
        for fragment_set in complete:
            try:
                readable.append((fragment_set, _reassembled(fragment_set)))
            except UnreadableText:
                concatenation.keep_incomplete(
                    new_uow(), self._clock, fragment_set, incomplete_text(fragment_set)
                )
        results = self._take(_BatchRouter(self._databases.router), [mo for _, mo in readable])
        concatenation.forget(
            new_uow(),
            [s for (s, _), status in zip(readable, results, strict=True) if status == 0],
        )
        for fragment_set in expired:
            if not fragment_set.complete:
                log.warning(
                    "concatenated MO from %s (reference %d): %d of %d parts after %s; kept "
                    "unacted on",
                    fragment_set.key.sender,
                    fragment_set.key.reference,
                    len(fragment_set.payloads),
                    fragment_set.key.total,
                    self.fragment_timeout,
                )
                concatenation.keep_incomplete(
                    new_uow(), self._clock, fragment_set, incomplete_text(fragment_set)
                )
        return len(expired)


def _reassembled(fragment_set: FragmentSet) -> IncomingMo:
    key = fragment_set.key
    return IncomingMo(key.sender, key.destination, whole_text(fragment_set), fragment_set.mo_key())
