"""What a deliver_sm is: a delivery receipt, a whole MO, a part of a concatenated MO, or
something unreadable. A whole MO gets its id from ``domain.mo_ids`` (SMPP gives MOs none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vasguard.channels.smpp.pdus import DeliverSm
from vasguard.channels.smpp.text import UnreadableText, decode_text
from vasguard.domain.concatenation import INCOMPLETE_GAP, Fragment, FragmentSet, SetKey
from vasguard.domain.mo_ids import MoIds
from vasguard.domain.receipts import DeliveryReport, UnreadableReceipt, read_report
from vasguard.domain.segmentation import read_concatenation
from vasguard.services.intake import IncomingMo


@dataclass(frozen=True, slots=True)
class ReceiptIn:
    report: DeliveryReport


@dataclass(frozen=True, slots=True)
class WholeMo:
    mo: IncomingMo


@dataclass(frozen=True, slots=True)
class PartMo:
    fragment: Fragment


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Neither an MO nor a receipt the platform can read: acknowledged with
    ESME_RX_P_APPN (a redelivery would be just as unreadable) and logged."""

    reason: str


Inbound = ReceiptIn | WholeMo | PartMo | Unreadable


def mo_id(ids: MoIds, pdu: DeliverSm, now: datetime) -> str:
    """The id the MO in ``pdu`` is stored under (``domain.mo_ids``)."""
    m = pdu.message
    return ids.id_for(
        source=m.source.addr,
        destination=m.destination.addr,
        data_coding=m.data_coding,
        esm_class=m.esm_class,
        user_data=m.user_data,
        now=now,
        smsc_id=m.receipted_message_id,
    )


def classify(pdu: DeliverSm, ids: MoIds, now: datetime) -> Inbound:
    m = pdu.message
    if m.is_receipt:
        try:
            text = decode_text(m.data_coding, m.user_data, udh=m.has_udh)
        except UnreadableText:
            text = m.user_data.decode("latin-1")
        try:
            return ReceiptIn(
                read_report(
                    text,
                    receipted_message_id=m.receipted_message_id,
                    message_state=m.message_state,
                )
            )
        except UnreadableReceipt as exc:
            return Unreadable(str(exc))
    fragment = _fragment(pdu)
    if fragment is not None:
        return PartMo(fragment)
    try:
        text = decode_text(m.data_coding, m.user_data, udh=m.has_udh)
    except UnreadableText as exc:
        return Unreadable(f"MO from {m.source.addr}: {exc}")
    return WholeMo(IncomingMo(m.source.addr, m.destination.addr, text, mo_id(ids, pdu, now)))


def _fragment(pdu: DeliverSm) -> Fragment | None:
    m = pdu.message
    if m.sar is not None and m.sar.total > 1:
        key = SetKey(m.source.addr, m.destination.addr, m.sar.reference, m.sar.total)
        return Fragment(key, m.sar.seqnum, m.data_coding, m.user_data)
    if not m.has_udh:
        return None
    try:
        part = read_concatenation(m.user_data)
    except ValueError:
        return None  # a UDH without concatenation (ports, say): a whole MO
    if part.count <= 1:
        return None
    key = SetKey(m.source.addr, m.destination.addr, part.reference, part.count)
    return Fragment(key, part.seq, m.data_coding, part.payload)


def whole_text(fragment_set: FragmentSet) -> str:
    """The text of a complete set; ``UnreadableText`` if its alphabet is not read here."""
    return decode_text(fragment_set.data_coding, fragment_set.joined)


def incomplete_text(fragment_set: FragmentSet) -> str:
    """What arrived of an incomplete set, each part read on its own, gaps marked."""
    pieces = []
    for seqnum in range(1, fragment_set.key.total + 1):
        payload = fragment_set.payloads.get(seqnum)
        if payload is None:
            pieces.append(INCOMPLETE_GAP)
            continue
        try:
            pieces.append(decode_text(fragment_set.data_coding, payload))
        except UnreadableText:
            pieces.append(payload.hex())
    return "".join(pieces)
