"""The SMPP 3.4 PDUs this ESME sends and understands, as plain typed values.

The session never touches the codec library's objects: it speaks these dataclasses, and
``codec`` translates them at the edge. Integers stay integers (``data_coding``,
``esm_class``, TONs, statuses) because an SMSC may send any value, including ones a
library's enums do not know, and the platform must be able to log and answer them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

RESPONSE_BIT = 0x80000000
MAX_SEQUENCE = 0x7FFFFFFF

ESM_CLASS_TYPE_MASK = 0x3C
ESM_CLASS_DELIVERY_RECEIPT = 0x04
ESM_CLASS_UDHI = 0x40
INTERFACE_VERSION = 0x34


class Command(IntEnum):
    """SMPP 3.4 command_id values (section 5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)

    @property
    def label(self) -> str:
        """The spec's lower-case name, as logs and operators know it (``submit_sm``)."""
        return self.name.lower()


def next_sequence(sequence: int) -> int:
    """The sequence number after ``sequence``: 1..0x7FFFFFFF, wrapping back to 1."""
    return 1 if sequence >= MAX_SEQUENCE else sequence + 1


@dataclass(frozen=True, slots=True)
class Address:
    """An SMPP address: digits (or an alphanumeric sender) with its TON and NPI."""

    addr: str
    ton: int = 1
    npi: int = 1


@dataclass(frozen=True, slots=True)
class Sar:
    """SAR TLVs: concatenation described outside the user data (SMPP 3.4 5.3.2.22-24)."""

    reference: int
    total: int
    seqnum: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortMessage:
    """The body shared by submit_sm and deliver_sm.

    ``short_message`` is the raw user data (UDH included when ``esm_class`` has UDHI);
    turning text into it and back is ``text``'s job, so the codec never guesses an
    alphabet. A delivery receipt is a deliver_sm whose ``esm_class`` type is 0x04; its
    ``receipted_message_id`` / ``message_state`` TLVs carry the outcome.
    """

    source: Address
    destination: Address
    short_message: bytes = b""
    data_coding: int = 0
    esm_class: int = 0
    registered_delivery: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    service_type: str = ""
    message_payload: bytes | None = None
    sar: Sar | None = None
    receipted_message_id: str | None = None
    message_state: int | None = None

    @property
    def is_receipt(self) -> bool:
        return self.esm_class & ESM_CLASS_TYPE_MASK == ESM_CLASS_DELIVERY_RECEIPT

    @property
    def has_udh(self) -> bool:
        return bool(self.esm_class & ESM_CLASS_UDHI)

    @property
    def user_data(self) -> bytes:
        """What the message carries: ``message_payload`` when present, else short_message."""
        return self.message_payload if self.message_payload is not None else self.short_message


@dataclass(frozen=True, slots=True)
class Bare:
    """A PDU whose body the session does not need: enquire_link(_resp), unbind(_resp),
    generic_nack, deliver_sm_resp, and any request this ESME does not support."""

    command: Command
    sequence: int
    status: int = 0


@dataclass(frozen=True, slots=True)
class BindTransceiver:
    sequence: int
    system_id: str
    password: str
    system_type: str = ""


@dataclass(frozen=True, slots=True)
class BindTransceiverResp:
    sequence: int
    status: int
    system_id: str


@dataclass(frozen=True, slots=True)
class SubmitSm:
    sequence: int
    message: ShortMessage


@dataclass(frozen=True, slots=True)
class SubmitSmResp:
    sequence: int
    status: int
    message_id: str


@dataclass(frozen=True, slots=True)
class DeliverSm:
    """An MO or a delivery receipt. ``ignored_tlvs`` are the tags of optional parameters
    the codec could not read and left out rather than refuse the whole PDU (SMPP 3.4 lets
    a receiver ignore optional parameters it does not support)."""

    sequence: int
    message: ShortMessage
    ignored_tlvs: tuple[int, ...] = ()


Pdu = Bare | BindTransceiver | BindTransceiverResp | SubmitSm | SubmitSmResp | DeliverSm


def command_of(pdu: Pdu) -> Command:
    """The command_id a PDU travels under."""
    match pdu:
        case Bare(command=command):
            return command
        case BindTransceiver():
            return Command.BIND_TRANSCEIVER
        case BindTransceiverResp():
            return Command.BIND_TRANSCEIVER_RESP
        case SubmitSm():
            return Command.SUBMIT_SM
        case SubmitSmResp():
            return Command.SUBMIT_SM_RESP
        case DeliverSm():
            return Command.DELIVER_SM


def status_of(pdu: Pdu) -> int:
    """A response's command_status (requests carry none: 0)."""
    match pdu:
        case Bare(status=status) | BindTransceiverResp(status=status) | SubmitSmResp(status=status):
            return status
        case _:
            return 0
