"""The SMS engine on SMPP binds (``channels.sms.engine.SmsEngine``).

MOs and receipts come in on every bind and go to ``Deliveries`` (committed before each
deliver_sm_resp); the outbox goes out through the pool by ``OutboxSender``, at most the
pool's window in flight and at the session's rate; concatenated MOs past their timeout are
swept every ``sweep_every`` seconds. ``stop`` stops claiming and closes the pool
concurrently: the sessions stop taking submits and MOs, let what is in flight finish and
unbind, and every submit outcome is recorded before ``stop`` returns.

Sharded (``Databases`` of several shards), the one set of binds serves them all: each
shard's outbox has a sender of its own (claiming from its database, under a claim that
names the process and the shard), the senders share the window (``WindowShares``), each
is woken after an MO's commit on its shard, and the id of every part submitted is
remembered with its shard (``SubmittedIds``) so that its receipt goes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import timedelta
from functools import partial

from vasguard.channels.metrics import BINDS_UP, OUTBOX_DEPTH
from vasguard.channels.smpp.config import SmppConfig
from vasguard.channels.smpp.databases import Databases
from vasguard.channels.smpp.deliveries import Deliveries
from vasguard.channels.smpp.errors import InvalidMessage, NotBound, OutcomeUnknown, SubmitRefused
from vasguard.channels.smpp.pdus import ESM_CLASS_UDHI, Address, ShortMessage
from vasguard.channels.smpp.pool import BindPool
from vasguard.channels.smpp.submitted import SubmittedIds
from vasguard.channels.smpp.text import GSM7, UCS2
from vasguard.channels.sms.sender import OutboxSender
from vasguard.channels.sms.shares import WindowShares
from vasguard.domain.clock import Clock
from vasguard.domain.concatenation import DEFAULT_TIMEOUT
from vasguard.domain.mo_ids import MoIds
from vasguard.domain.mt_parts import (
    NotSent,
    Outgoing,
    Rejected,
    SubmitOutcome,
    Submitted,
    Throttled,
    Unknown,
)
from vasguard.domain.segmentation import encode_part
from vasguard.services.deployment import Deployment
from vasguard.services.outbox import DEFAULT_LEASE
from vasguard.services.unit_of_work import UnitOfWork

log = logging.getLogger("vasguard.channels.smpp")

REGISTERED_DELIVERY_FINAL = 0x01
"""Ask for a receipt on the final outcome (success or failure) of every part."""


MAX_SHORT_MESSAGE = 254
"""Octets of user data short_message holds (SMPP 3.4 5.2.22); more go in message_payload."""


def short_message(part: Outgoing, *, source_ton: int = 0, destination_ton: int = 0) -> ShortMessage:
    """The submit_sm body of one part: data_coding 0 (GSM-7, a septet an octet) or 8
    (UCS-2) by the MT's encoding, the UDH and esm_class UDHI when it has several parts,
    a final receipt requested. A whole MT (one part, claimed so for ``message_payload``)
    too long for short_message goes in the message_payload TLV. Addresses go as stored (a
    service number or sub-port, an 11-digit national MSISDN), so their TON is 0
    (unknown: the SMSC reads them) by default, NPI 1 (E.164)."""
    data = encode_part(part.text, part.encoding, part.reference, part.number, part.parts)
    payload = part.parts == 1 and len(data) > MAX_SHORT_MESSAGE
    return ShortMessage(
        source=Address(part.source, source_ton, 1),
        destination=Address(part.msisdn, destination_ton, 1),
        short_message=b"" if payload else data,
        message_payload=data if payload else None,
        data_coding=UCS2 if part.encoding == "ucs2" else GSM7,
        esm_class=ESM_CLASS_UDHI if part.parts > 1 else 0,
        registered_delivery=REGISTERED_DELIVERY_FINAL,
    )


class SmppEngine:
    def __init__(
        self,
        databases: Databases | Callable[[], UnitOfWork],
        clock: Clock,
        deployment: Deployment,
        config: SmppConfig,
        *,
        owner: str = "smpp",
        lease: timedelta = DEFAULT_LEASE,
        fragment_timeout: timedelta = DEFAULT_TIMEOUT,
        mo_ids: MoIds | None = None,
        interval: float = 0.05,
        sweep_every: float = 30.0,
    ) -> None:
        """``databases``: the shards served, or the unit-of-work factory of the one
        database of an unsharded deployment."""
        if not isinstance(databases, Databases):
            databases = Databases.one(databases)
        shards = databases.shards
        self.submitted = SubmittedIds()
        shares = WindowShares(self._capacity)
        self._depths = dict.fromkeys(shards, 0)
        self.senders = {
            name: OutboxSender(
                new_uow,
                clock,
                shares.counted(name, partial(self._submit, name)),
                owner=owner if len(shards) == 1 else f"{owner}/{name}",
                capacity=shares.capacity(name),
                interval=interval,
                lease=lease,
                depth=partial(self._depth, name),
                whole=config.message_payload,
            )
            for name, new_uow in shards.items()
        }
        self.deliveries = Deliveries(
            databases,
            clock,
            deployment,
            submitted=self.submitted,
            receipt_wait=config.response_timeout,
            mo_ids=mo_ids,
            fragment_timeout=fragment_timeout,
            committed=self._wake,
        )
        self.pool = BindPool(config, self.deliveries)
        self._window = config.window
        self._sweep_every = sweep_every
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def _capacity(self) -> int:
        BINDS_UP.set(self.pool.bound)
        return self.pool.bound * self._window

    def _wake(self, shards: Collection[str | None]) -> None:
        """MOs were taken on these shards: their senders claim the replies now."""
        for shard in shards:
            if shard in self.senders:
                self.senders[shard].wake()

    def _depth(self, shard: str, depth: int) -> None:
        self._depths[shard] = depth
        OUTBOX_DEPTH.set(sum(self._depths.values()))

    async def start(self) -> None:
        self.pool.start()
        for sender in self.senders.values():
            sender.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="smpp-sweep")

    def ready(self) -> bool:
        return self.pool.bound > 0 and not self._stopping.is_set()

    async def stop(self) -> None:
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await asyncio.gather(*(s.stop() for s in self.senders.values()), self.pool.close())
        BINDS_UP.set(0)

    async def _submit(self, shard: str, part: Outgoing) -> SubmitOutcome:
        try:
            smsc_id = await self.submitted.track(shard, self.pool.submit(short_message(part)))
        except NotBound:
            return NotSent(part)
        except SubmitRefused as refused:
            if refused.retryable:
                return Throttled(part, refused.status_name)
            log.warning("MT %d part %d refused: %s", part.message_id, part.number, refused)
            return Rejected(part, refused.status_name)
        except OutcomeUnknown as exc:
            log.warning("MT %d part %d: outcome unknown (%s)", part.message_id, part.number, exc)
            return Unknown(part, str(exc))
        except InvalidMessage as exc:
            log.error("MT %d part %d cannot be sent: %s", part.message_id, part.number, exc)
            return Rejected(part, "INVALID_MESSAGE")
        return Submitted(part, smsc_id)

    async def _sweep(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._sweep_every)
                return
            try:
                await self.deliveries.sweep()
            except Exception:
                log.exception("sweeping concatenated MOs failed; trying again later")
