"""PDU bodies to bytes and back, through the ``smpp.pdu3`` codec (Jasmin's).

This module is the only place that touches the library, which has no type hints: its
objects (``Any``) never leave here. Everything else speaks ``pdus``.

Header-only PDUs (enquire_link, unbind, their responses, generic_nack, deliver_sm_resp)
are packed with ``struct``: they are sixteen fixed octets (deliver_sm_resp adds one NUL
message_id), the library refuses sequence number 0, and a generic_nack must be able to
echo whatever sequence number a broken peer sent.

``decode`` never lets a library exception through: whatever the peer sent, the caller
gets a ``Pdu`` or a ``MalformedPdu`` that says what to answer, so one bad PDU cannot take
a session down.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from smpp.pdu import constants as _c
from smpp.pdu import operations as _ops
from smpp.pdu import pdu_types as _t
from smpp.pdu.error import PDUParseError
from smpp.pdu.pdu_encoding import (
    DataCodingEncoder,
    EsmClassEncoder,
    OptionEncoder,
    PDUEncoder,
    RegisteredDeliveryEncoder,
)

from vasguard.channels.smpp.framing import HEADER_LENGTH, Frame, Header
from vasguard.channels.smpp.pdus import (
    INTERFACE_VERSION,
    RESPONSE_BIT,
    Address,
    Bare,
    BindTransceiver,
    BindTransceiverResp,
    Command,
    DeliverSm,
    Pdu,
    Sar,
    ShortMessage,
    SubmitSm,
    SubmitSmResp,
)
from vasguard.channels.smpp.status import Status, status_name

_ENCODER: Any = PDUEncoder()
_ESM_CLASS: Any = EsmClassEncoder()
_REGISTERED_DELIVERY: Any = RegisteredDeliveryEncoder()
_DATA_CODING: Any = DataCodingEncoder()


def _enum_table(enum_type: Any, values: dict[int, str]) -> dict[int, Any]:
    return {value: getattr(enum_type, name) for value, name in values.items()}


_TON = _enum_table(_t.AddrTon, _c.addr_ton_value_map)
_NPI = _enum_table(_t.AddrNpi, _c.addr_npi_value_map)
_PRIORITY = _enum_table(_t.PriorityFlag, _c.priority_flag_value_map)
_MESSAGE_STATE = _enum_table(_t.MessageState, _c.message_state_value_map)
_DO_NOT_REPLACE: Any = _t.ReplaceIfPresentFlag.DO_NOT_REPLACE
_MAX_SHORT_MESSAGE = 254
_INTERMEDIATE_NOTIFICATION = 0x10
_KNOWN_COMMANDS = frozenset(int(command) for command in Command)


class MalformedPdu(Exception):
    """The peer sent a PDU that cannot be decoded; ``answer`` is what the spec says to send
    back (None for a response, which is never answered)."""

    def __init__(self, header: Header, status: int, reason: str) -> None:
        self.header = header
        self.status = status
        self.reason = reason
        super().__init__(
            f"malformed PDU (command_id 0x{header.command_id:08X}, sequence "
            f"{header.sequence}): {status_name(status)}: {reason}"
        )

    def answer(self) -> Bare | None:
        if self.header.command_id & RESPONSE_BIT:
            return None
        nack_statuses = (Status.ESME_RINVCMDID, Status.ESME_RINVCMDLEN)
        if self.status in nack_statuses or self.header.command_id not in _KNOWN_COMMANDS:
            return Bare(Command.GENERIC_NACK, self.header.sequence, self.status)
        return Bare(
            Command(self.header.command_id | RESPONSE_BIT), self.header.sequence, self.status
        )


# --- encoding ---------------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """The wire form of ``pdu``. ``ValueError`` when a field cannot be sent as given (an
    address over 20 octets, a short_message over 254, a non-ASCII password): a caller's
    mistake that retrying will not fix."""
    match pdu:
        case Bare(command=command, sequence=sequence, status=status):
            if command is Command.DELIVER_SM_RESP:
                return Header(HEADER_LENGTH + 1, command, status, sequence).pack() + b"\x00"
            return Header(HEADER_LENGTH, command, status, sequence).pack()
        case BindTransceiver():
            raw: Any = _ops.BindTransceiver(
                seqNum=pdu.sequence,
                system_id=_ascii(pdu.system_id, "system_id"),
                password=_ascii(pdu.password, "password"),
                system_type=_ascii(pdu.system_type, "system_type"),
                interface_version=INTERFACE_VERSION,
                addr_ton=_TON[0],
                addr_npi=_NPI[0],
                address_range=b"",
            )
        case BindTransceiverResp():
            raw = _ops.BindTransceiverResp(
                seqNum=pdu.sequence,
                status=_library_status(pdu.status),
                system_id=_ascii(pdu.system_id, "system_id"),
            )
        case SubmitSm():
            if (
                pdu.message.receipted_message_id is not None
                or pdu.message.message_state is not None
            ):
                raise ValueError("receipted_message_id and message_state belong to deliver_sm")
            raw = _ops.SubmitSM(seqNum=pdu.sequence, **_message_params(pdu.message))
        case SubmitSmResp():
            raw = _ops.SubmitSMResp(
                seqNum=pdu.sequence,
                status=_library_status(pdu.status),
                message_id=_ascii(pdu.message_id, "message_id"),
            )
        case DeliverSm():
            params = _message_params(pdu.message)
            if pdu.message.receipted_message_id is not None:
                params["receipted_message_id"] = _ascii(
                    pdu.message.receipted_message_id, "receipted_message_id"
                )
            if pdu.message.message_state is not None:
                params["message_state"] = _lookup(
                    _MESSAGE_STATE, pdu.message.message_state, "message_state"
                )
            raw = _ops.DeliverSM(seqNum=pdu.sequence, **params)
    # The library sizes a message_payload on encode by the length of the last TLV it
    # decoded (one shared OptionEncoder): forget it, or the next payload is "wrong size".
    _ENCODER.optionEncoder.length = None
    try:
        return bytes(_ENCODER.encode(raw))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"cannot encode {type(pdu).__name__}: {exc}") from exc


def _message_params(m: ShortMessage) -> dict[str, Any]:
    params: dict[str, Any] = {
        "service_type": _ascii(m.service_type, "service_type", 5),
        "source_addr_ton": _lookup(_TON, m.source.ton, "source TON"),
        "source_addr_npi": _lookup(_NPI, m.source.npi, "source NPI"),
        "source_addr": _ascii(m.source.addr, "source_addr", 20),
        "dest_addr_ton": _lookup(_TON, m.destination.ton, "destination TON"),
        "dest_addr_npi": _lookup(_NPI, m.destination.npi, "destination NPI"),
        "destination_addr": _ascii(m.destination.addr, "destination_addr", 20),
        "esm_class": _flags(_ESM_CLASSES, _ESM_CLASS, m.esm_class, "esm_class"),
        "protocol_id": _octet(m.protocol_id, "protocol_id"),
        "priority_flag": _lookup(_PRIORITY, m.priority_flag, "priority_flag"),
        "schedule_delivery_time": None,
        "validity_period": None,
        "registered_delivery": _flags(
            _REGISTERED_DELIVERIES,
            _REGISTERED_DELIVERY,
            m.registered_delivery,
            "registered_delivery",
        ),
        "replace_if_present_flag": _DO_NOT_REPLACE,
        "data_coding": _raw_data_coding(m.data_coding),
        "sm_default_msg_id": 0,
        "short_message": m.short_message,
    }
    if len(m.short_message) > _MAX_SHORT_MESSAGE:
        raise ValueError(
            f"short_message is at most {_MAX_SHORT_MESSAGE} octets, got {len(m.short_message)}: "
            "split the text or use message_payload"
        )
    if m.message_payload is not None:
        params["message_payload"] = m.message_payload
    if m.sar is not None:
        params["sar_msg_ref_num"] = m.sar.reference
        params["sar_total_segments"] = m.sar.total
        params["sar_segment_seqnum"] = m.sar.seqnum
    return params


def _ascii(value: str, field: str, limit: int | None = None) -> bytes:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(f"{field} must be ASCII, got {value!r}") from None
    if limit is not None and len(data) > limit:
        raise ValueError(f"{field} is at most {limit} characters, got {len(data)}: {value!r}")
    return data


def _octet(value: int, field: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{field} is one octet (0..255), got {value}")
    return value


# The library wants flag octets as objects and builds them with a fresh encoder per call;
# they are immutable in practice, so each octet value is built once.
_ESM_CLASSES: dict[int, Any] = {}
_REGISTERED_DELIVERIES: dict[int, Any] = {}
_DATA_CODINGS: dict[int, Any] = {}


def _flags(cache: dict[int, Any], encoder: Any, value: int, field: str) -> Any:
    found = cache.get(value)
    if found is None:
        try:
            found = cache[value] = encoder._decode(_octet(value, field))
        except PDUParseError as exc:
            raise ValueError(f"{field} 0x{value:02X} is not an SMPP 3.4 value: {exc}") from None
    return found


def _raw_data_coding(value: int) -> Any:
    found = _DATA_CODINGS.get(value)
    if found is None:
        found = _DATA_CODINGS[value] = _t.DataCoding(
            _t.DataCodingScheme.RAW, _octet(value, "data_coding")
        )
    return found


def _lookup(table: dict[int, Any], value: int, field: str) -> Any:
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"{field} {value} is not an SMPP 3.4 value") from None


def _library_status(status: int) -> Any:
    name = status_name(status)
    if not hasattr(_t.CommandStatus, name):
        raise ValueError(f"command_status {status:#x} has no SMPP 3.4 name")
    return getattr(_t.CommandStatus, name)


# --- decoding ---------------------------------------------------------------------------

_TLV_HEADER = struct.Struct("!HH")
_TLV_PROBLEMS = frozenset(
    _c.command_status_name_map[name]
    for name in ("ESME_ROPTPARNOTALLWD", "ESME_RINVPARLEN", "ESME_RINVOPTPARAMVAL")
)
_DELIVER_SM_TAGS = frozenset(
    _c.tag_name_map[name]
    for name in _ops.DeliverSM.optionalParams
    if name in _c.tag_name_map and getattr(_t.Tag, name) in OptionEncoder().options
)
_WITH_BODY = frozenset(
    {
        Command.BIND_TRANSCEIVER,
        Command.BIND_TRANSCEIVER_RESP,
        Command.SUBMIT_SM,
        Command.SUBMIT_SM_RESP,
        Command.DELIVER_SM,
    }
)


def decode(frame: Frame) -> Pdu:
    """The PDU in ``frame``; ``MalformedPdu`` if the peer sent something this ESME cannot
    read. Commands whose body the session does not use come back as ``Bare``."""
    header = frame.header
    try:
        command = Command(header.command_id)
    except ValueError:
        raise MalformedPdu(
            header, Status.ESME_RINVCMDID, f"unknown command_id 0x{header.command_id:08X}"
        ) from None
    if command not in _WITH_BODY:
        return Bare(command, header.sequence, header.status)
    try:
        return _from_library(command, header, _ENCODER.decode(io.BytesIO(frame.data)))
    except PDUParseError as exc:
        status = _status_value(exc.status)
        if command is Command.DELIVER_SM and status in _TLV_PROBLEMS:
            return _without_unreadable_tlvs(frame, MalformedPdu(header, status, str(exc)))
        raise MalformedPdu(header, status, str(exc)) from exc
    except Exception as exc:  # the library parses untrusted bytes; any failure is the peer's
        raise MalformedPdu(header, Status.ESME_RSYSERR, f"{type(exc).__name__}: {exc}") from exc


def _without_unreadable_tlvs(frame: Frame, refusal: MalformedPdu) -> DeliverSm:
    """The deliver_sm with only the optional parameters the library reads. An MO must not
    be refused, and so lost, because an SMSC added a TLV (ussd_service_op, say) that the
    codec has no encoder for; ``refusal`` is raised if the PDU is still unreadable."""
    data = frame.data
    try:
        position = _mandatory_end(data)
        kept, ignored = bytearray(data[HEADER_LENGTH:position]), []
        while position + 4 <= len(data):
            tag, length = _TLV_HEADER.unpack_from(data, position)
            end = position + 4 + length
            if tag in _DELIVER_SM_TAGS:
                kept.extend(data[position:end])
            else:
                ignored.append(tag)
            position = end
        header = frame.header
        rebuilt = Header(
            HEADER_LENGTH + len(kept), header.command_id, header.status, header.sequence
        )
        raw = _ENCODER.decode(io.BytesIO(rebuilt.pack() + bytes(kept)))
        return DeliverSm(header.sequence, _message(raw.params), tuple(ignored))
    except Exception as exc:  # still unreadable: the original refusal stands
        raise refusal from exc


def _mandatory_end(data: bytes) -> int:
    """Offset just past a deliver_sm's short_message (SMPP 3.4 4.6.1)."""
    position = HEADER_LENGTH

    def skip_c_string() -> None:
        nonlocal position
        position = data.index(b"\x00", position) + 1

    skip_c_string()  # service_type
    position += 2  # source_addr_ton, source_addr_npi
    skip_c_string()  # source_addr
    position += 2  # dest_addr_ton, dest_addr_npi
    skip_c_string()  # destination_addr
    position += 3  # esm_class, protocol_id, priority_flag
    skip_c_string()  # schedule_delivery_time
    skip_c_string()  # validity_period
    position += 4  # registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
    return position + 1 + data[position]  # sm_length, short_message


def _from_library(command: Command, header: Header, raw: Any) -> Pdu:
    p: dict[str, Any] = raw.params
    match command:
        case Command.BIND_TRANSCEIVER_RESP:
            return BindTransceiverResp(header.sequence, header.status, _text(p.get("system_id")))
        case Command.SUBMIT_SM_RESP:
            return SubmitSmResp(header.sequence, header.status, _text(p.get("message_id")))
        case Command.DELIVER_SM:
            return DeliverSm(header.sequence, _message(p))
        case Command.SUBMIT_SM:
            return SubmitSm(header.sequence, _message(p))
        case _:  # BIND_TRANSCEIVER, the last of _WITH_BODY
            return BindTransceiver(
                header.sequence,
                _text(p.get("system_id")),
                _text(p.get("password")),
                _text(p.get("system_type")),
            )


def _message(p: dict[str, Any]) -> ShortMessage:
    sar = None
    if p.get("sar_msg_ref_num") is not None:
        sar = Sar(p["sar_msg_ref_num"], p["sar_total_segments"], p["sar_segment_seqnum"])
    state = p.get("message_state")
    receipted = p.get("receipted_message_id")
    return ShortMessage(
        source=Address(
            _text(p["source_addr"]),
            _name_value(_c.addr_ton_name_map, p["source_addr_ton"]),
            _name_value(_c.addr_npi_name_map, p["source_addr_npi"]),
        ),
        destination=Address(
            _text(p["destination_addr"]),
            _name_value(_c.addr_ton_name_map, p["dest_addr_ton"]),
            _name_value(_c.addr_npi_name_map, p["dest_addr_npi"]),
        ),
        short_message=bytes(p["short_message"] or b""),
        data_coding=int(_DATA_CODING._encodeAsInt(p["data_coding"])),
        esm_class=_esm_class_value(p["esm_class"]),
        registered_delivery=_registered_delivery_value(p["registered_delivery"]),
        protocol_id=int(p["protocol_id"]),
        priority_flag=_name_value(_c.priority_flag_name_map, p["priority_flag"]),
        service_type=_text(p["service_type"]),
        message_payload=None if p.get("message_payload") is None else bytes(p["message_payload"]),
        sar=sar,
        receipted_message_id=None if receipted is None else _text(receipted),
        message_state=None if state is None else _name_value(_c.message_state_name_map, state),
    )


def _esm_class_value(esm_class: Any) -> int:
    value = _c.esm_class_mode_name_map[esm_class.mode.name]
    value |= _c.esm_class_type_name_map[esm_class.type.name]
    for feature in esm_class.gsmFeatures:
        value |= _c.esm_class_gsm_features_name_map[feature.name]
    return int(value)


def _registered_delivery_value(registered: Any) -> int:
    value = _c.registered_delivery_receipt_name_map[registered.receipt.name]
    for ack in registered.smeOriginatedAcks:
        value |= _c.registered_delivery_sme_originated_acks_name_map[ack.name]
    if registered.intermediateNotification:
        value |= _INTERMEDIATE_NOTIFICATION
    return int(value)


def _text(value: Any) -> str:
    """A C-octet string as text; Latin-1 so that no byte an SMSC sends can fail here."""
    if value is None:
        return ""
    return bytes(value).decode("latin-1")


def _name_value(names: dict[str, int], member: Any) -> int:
    return int(names[member.name])


def _status_value(member: Any) -> int:
    value = _c.command_status_name_map.get(getattr(member, "name", ""), Status.ESME_RSYSERR)
    return int(value) if value >= 0 else int(Status.ESME_RSYSERR)
