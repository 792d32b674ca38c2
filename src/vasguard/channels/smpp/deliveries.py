"""The deliver_sm handler of the SMPP engine: receipts to the outbox, MOs to the intake,
concatenated parts kept until their message is complete; one status per deliver_sm.

The statuses say what the SMSC should do (and the link sends each only after this
returned, so after the commit: invariant 6):

* ESME_ROK - committed: a receipt applied or kept, an MO taken (acted on, a duplicate, or
  refused but stored: an unknown sender or a wrong destination would be refused again),
  a part of a concatenated MO stored.
* ESME_RX_T_APPN - not committed: the MO's transaction failed (it may be stored,
  unhandled), or its sender is being moved between shards (nothing stored), so the SMSC
  redelivers it and the intake acts on it then. Anything that
  raises here gets the whole batch this status (the link's rule).
* ESME_RX_P_APPN - unreadable (an alphabet not read here, a receipt without an id):
  a redelivery would be just as unreadable; it is logged with the sender.

MOs of one batch, whole and reassembled, go to the intake in one call (group commit).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from vasguard.channels.metrics import MOS, MTS, RECEIPTS
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
from vasguard.channels.smpp.text import UnreadableText
from vasguard.domain.clock import Clock
from vasguard.domain.concatenation import DEFAULT_TIMEOUT, FragmentSet
from vasguard.domain.messages import Receipt
from vasguard.domain.mo_ids import MoIds
from vasguard.domain.receipts import as_receipt
from vasguard.domain.refusals import Refused, TryLater
from vasguard.services import concatenation
from vasguard.services.deployment import Deployment
from vasguard.services.intake import IncomingMo, MoResult, receive_mos
from vasguard.services.outbox import forget_unmatched, record_receipts
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger("vasguard.channels.smpp")


class Deliveries:
    """``await deliveries(batch)`` is a ``DeliverHandler``; the database work runs in a
    thread, so the event loop keeps serving every bind meanwhile."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        clock: Clock,
        deployment: Deployment,
        *,
        mo_ids: MoIds | None = None,
        fragment_timeout: timedelta = DEFAULT_TIMEOUT,
        committed: Callable[[], None] | None = None,
    ) -> None:
        self._new_uow = new_uow
        # Told after each batch is committed, on the event loop: its replies are queued.
        self._committed = committed
        self._clock = clock
        self._deployment = deployment
        self._mo_ids = mo_ids or MoIds()
        self.fragment_timeout = fragment_timeout

    async def __call__(self, batch: Sequence[DeliverSm]) -> list[int]:
        now = self._clock.now()
        items = [classify(pdu, self._mo_ids, now) for pdu in batch]
        statuses = await asyncio.to_thread(self._commit, items)
        if self._committed is not None:
            self._committed()
        return statuses

    def _commit(self, items: Sequence[Inbound]) -> list[int]:
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
        record_receipts(self._new_uow(), receipts)
        mos: list[IncomingMo] = []
        owners: list[list[int]] = []
        fragments = [(n, item.fragment) for n, item in enumerate(items) if isinstance(item, PartMo)]
        if fragments:
            stored = concatenation.keep_fragments(
                self._new_uow(), self._clock, [f for _, f in fragments]
            )
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
        for result, positions in zip(self._take(mos), owners, strict=True):
            for n in positions:
                statuses[n] = result
        return statuses

    def _take(self, mos: Sequence[IncomingMo]) -> list[int]:
        """The intake's verdict on each MO, as a deliver_sm_resp status."""
        if not mos:
            return []
        statuses = []
        for result in receive_mos(self._new_uow, self._clock, self._deployment, mos):
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
        """Settle concatenated MOs past their timeout (see ``services.concatenation``)
        and drop receipts that never found their part; how many sets were settled."""
        return await asyncio.to_thread(self._sweep)

    def _sweep(self) -> int:
        forget_unmatched(self._new_uow(), self._clock)
        expired = concatenation.sweep(self._new_uow(), self._clock, self.fragment_timeout)
        complete = [s for s in expired if s.complete]
        readable = []
        for fragment_set in complete:
            try:
                readable.append((fragment_set, _reassembled(fragment_set)))
            except UnreadableText:
                concatenation.keep_incomplete(
                    self._new_uow(), self._clock, fragment_set, incomplete_text(fragment_set)
                )
        results = self._take([mo for _, mo in readable])
        concatenation.forget(
            self._new_uow(),
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
                    self._new_uow(), self._clock, fragment_set, incomplete_text(fragment_set)
                )
        return len(expired)


def _reassembled(fragment_set: FragmentSet) -> IncomingMo:
    key = fragment_set.key
    return IncomingMo(key.sender, key.destination, whole_text(fragment_set), fragment_set.mo_key())
