"""What a deliver_sm is: a delivery receipt, a whole MO, a part of a concatenated MO, or
something unreadable; and the id an MO is stored under.

The MO id (``MoKeys``): SMPP 3.4 gives an MO no message id. An SMSC that puts one in
``receipted_message_id`` of a non-receipt deliver_sm has it used (``smsc:<id>``).
Otherwise the id is a digest of what the SMSC sent (source, destination, data_coding,
esm_class, user data) and the window of time it was first seen in: the same MO redelivered
within that window (after an ESME_RX_T_APPN, a drop and reconnect, or a restart inside
the same window) gets the same id, and the intake acts on it once. What this costs: a
customer sending the very same text twice within the window is answered once; and a
redelivery after a restart that crosses a window boundary is acted on twice. The window
(default 10 minutes) should cover the SMSC's redelivery schedule.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from vasguard.channels.smpp.pdus import DeliverSm
from vasguard.channels.smpp.text import UnreadableText, decode_text
from vasguard.domain.concatenation import INCOMPLETE_GAP, Fragment, FragmentSet, SetKey
from vasguard.domain.receipts import DeliveryReport, UnreadableReceipt, read_report
from vasguard.domain.segmentation import read_concatenation
from vasguard.services.intake import IncomingMo

DEFAULT_WINDOW = timedelta(minutes=10)


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


class MoKeys:
    """MO ids by content within a time window (see module doc); remembers the ids it gave
    for one window so a redelivery straddling a window boundary keeps its first id."""

    def __init__(self, window: timedelta = DEFAULT_WINDOW) -> None:
        self._window = window
        self._given: OrderedDict[str, tuple[str, datetime]] = OrderedDict()

    def key(self, pdu: DeliverSm, now: datetime) -> str:
        m = pdu.message
        if m.receipted_message_id:
            return f"smsc:{m.receipted_message_id}"
        digest = hashlib.sha256()
        for value in (m.source.addr, m.destination.addr, m.data_coding, m.esm_class):
            digest.update(f"{value}\x1f".encode())
        digest.update(m.user_data)
        content = digest.hexdigest()[:32]
        self._forget_before(now - self._window)
        given = self._given.get(content)
        if given is not None:
            return given[0]
        bucket = int(now.timestamp() // self._window.total_seconds())
        key = f"mo:{content}:{bucket}"
        self._given[content] = (key, now)
        return key

    def _forget_before(self, cutoff: datetime) -> None:
        while self._given:
            content, (_, seen) = next(iter(self._given.items()))
            if seen >= cutoff:
                return
            del self._given[content]


def classify(pdu: DeliverSm, keys: MoKeys, now: datetime) -> Inbound:
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
    return WholeMo(IncomingMo(m.source.addr, m.destination.addr, text, keys.key(pdu, now)))


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
