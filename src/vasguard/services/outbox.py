"""Sending what is queued: MTs whose time has come go to the transport; receipts come back.

A reminder counts as *sent* once the SMSC accepted it (``sent_at``), and as *delivered*
once a delivery receipt says so; the charging policy reads exactly these two facts.
"""

from __future__ import annotations

from typing import Protocol

from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause, CauseKind, Event
from vasguard.domain.messages import Outgoing, Receipt
from vasguard.services.unit_of_work import UnitOfWork


class Transport(Protocol):
    """Where MTs go: the loopback SMSC or an SMPP bind."""

    def submit(self, message: Outgoing) -> str:
        """Hand one MT to the SMSC and return the SMSC's message id."""
        ...


def flush(uow: UnitOfWork, clock: Clock, transport: Transport, *, chunk: int = 500) -> int:
    """Submit every queued MT whose ``send_after`` has come, oldest first; returns the count."""
    at = clock.now()
    sent = 0
    with uow:
        while batch := uow.messages.due_mt(at, chunk):
            for message in batch:
                smsc_id = transport.submit(message)
                uow.messages.mark_sent(message.message_id, smsc_id, at)
            uow.commit()
            sent += len(batch)
    return sent


def record_receipt(uow: UnitOfWork, receipt: Receipt) -> bool:
    """Apply a delivery receipt to its MT; an unknown or repeated receipt changes nothing."""
    with uow:
        row = uow.messages.apply_receipt(receipt.smsc_message_id, receipt.delivered, receipt.at)
        if row is None:
            return False
        uow.events.add(
            Event(
                row.subscriber_id,
                row.province,
                "message",
                row.id,
                "delivered" if receipt.delivered else "delivery_failed",
                Cause(CauseKind.API, f"smsc:{receipt.smsc_message_id}"),
                receipt.at,
            )
        )
        uow.commit()
    return True
