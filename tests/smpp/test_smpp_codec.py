"""The codec adapter, the frame reader and the text mapping, with bytes only (no peer)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.channels.smpp import Address, Sar, ShortMessage, SmppConfig, Status
from vasguard.channels.smpp.backoff import Backoff
from vasguard.channels.smpp.codec import MalformedPdu, decode, encode
from vasguard.channels.smpp.engine import short_message
from vasguard.channels.smpp.framing import Frame, FrameError, FrameReader, Header, read_frame
from vasguard.channels.smpp.pdus import (
    MAX_SEQUENCE,
    Bare,
    BindTransceiver,
    BindTransceiverResp,
    Command,
    DeliverSm,
    SubmitSm,
    SubmitSmResp,
    next_sequence,
)
from vasguard.channels.smpp.rate import TokenBucket
from vasguard.channels.smpp.status import describe, status_name
from vasguard.channels.smpp.text import (
    GSM7,
    IA5,
    LATIN1,
    UCS2,
    UnreadableText,
    decode_concatenated,
    decode_text,
    encode_text,
)
from vasguard.domain.mt_parts import Outgoing


def frame(data: bytes) -> Frame:
    return Frame(Header.unpack(data), data)


def roundtrip(pdu):
    data = encode(pdu)
    assert Header.unpack(data).length == len(data)
    return decode(frame(data))


def test_submit_sm_round_trips_every_field():
    message = ShortMessage(
        source=Address("VASGUARD", 5, 0),
        destination=Address("989121234567", 1, 1),
        short_message=bytes([5, 0, 3, 7, 2, 1]) + "سلام".encode("utf-16-be"),
        data_coding=UCS2,
        esm_class=0x40,
        registered_delivery=1,
        protocol_id=0,
        priority_flag=1,
        service_type="VAS",
        sar=Sar(7, 2, 1),
    )
    assert roundtrip(SubmitSm(0x7FFFFFFF, message)) == SubmitSm(0x7FFFFFFF, message)


def test_deliver_sm_receipt_and_payload_round_trip():
    receipt = ShortMessage(
        source=Address("989121234567"),
        destination=Address("1234", 0, 1),
        short_message=b"id:abc sub:001 dlvrd:001 submit date:2612010900 done date:2612010900 "
        b"stat:DELIVRD err:000 text:hello",
        esm_class=0x04,
        receipted_message_id="abc",
        message_state=2,
    )
    decoded = roundtrip(DeliverSm(9, receipt))
    assert decoded == DeliverSm(9, receipt) and decoded.message.is_receipt
    long_mo = ShortMessage(
        source=Address("989121234567"),
        destination=Address("1234"),
        message_payload=("x" * 1000).encode(),
    )
    decoded = roundtrip(DeliverSm(10, long_mo))
    assert decoded.message.user_data == b"x" * 1000 and not decoded.message.is_receipt


def test_bind_and_responses_round_trip():
    assert roundtrip(BindTransceiver(1, "vasguard", "secret", "VAS")) == BindTransceiver(
        1, "vasguard", "secret", "VAS"
    )
    assert roundtrip(BindTransceiverResp(1, 0, "SMSC")) == BindTransceiverResp(1, 0, "SMSC")
    refused = roundtrip(BindTransceiverResp(2, Status.ESME_RINVPASWD, ""))
    assert refused == BindTransceiverResp(2, Status.ESME_RINVPASWD, "")
    assert roundtrip(SubmitSmResp(3, 0, "id-1")) == SubmitSmResp(3, 0, "id-1")
    assert roundtrip(SubmitSmResp(4, Status.ESME_RTHROTTLED, "")).status == 0x58


def test_header_only_pdus():
    assert encode(Bare(Command.ENQUIRE_LINK, 5)).hex() == "00000010000000150000000000000005"
    resp = encode(Bare(Command.DELIVER_SM_RESP, 6, Status.ESME_RX_T_APPN))
    assert resp.hex() == "0000001180000005000000640000000600", "message_id is a NULL octet"
    nack = encode(Bare(Command.GENERIC_NACK, 0, Status.ESME_RINVCMDLEN))
    assert decode(frame(nack)) == Bare(Command.GENERIC_NACK, 0, Status.ESME_RINVCMDLEN)


@given(
    source=st.text("0123456789", min_size=1, max_size=20),
    destination=st.text("0123456789", min_size=1, max_size=20),
    user_data=st.binary(max_size=254),
    data_coding=st.sampled_from([0, 1, 3, 8, 0xF0]),
    esm_class=st.sampled_from([0, 0x40, 0x04, 0x03]),
    sequence=st.integers(1, MAX_SEQUENCE),
)
def test_any_message_round_trips(source, destination, user_data, data_coding, esm_class, sequence):
    message = ShortMessage(
        source=Address(source),
        destination=Address(destination),
        short_message=user_data,
        data_coding=data_coding,
        esm_class=esm_class,
    )
    assert roundtrip(DeliverSm(sequence, message)) == DeliverSm(sequence, message)


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        (ShortMessage(source=Address("1"), destination=Address("9" * 21)), "destination_addr"),
        (
            ShortMessage(source=Address("1"), destination=Address("2"), short_message=b"x" * 255),
            "short_message is at most 254",
        ),
        (ShortMessage(source=Address("1", ton=9), destination=Address("2")), "source TON"),
        (ShortMessage(source=Address("١"), destination=Address("2")), "ASCII"),
        (ShortMessage(source=Address("1"), destination=Address("2"), esm_class=0x0C), "esm_class"),
    ],
)
def test_what_cannot_be_sent_is_a_value_error_naming_the_field(message, complaint):
    with pytest.raises(ValueError, match=complaint):
        encode(SubmitSm(1, message))


def test_unknown_command_id_gets_generic_nack_invalid_command_id():
    data = bytes.fromhex("0000001000000099000000000000002a")
    with pytest.raises(MalformedPdu) as caught:
        decode(frame(data))
    assert caught.value.answer() == Bare(Command.GENERIC_NACK, 42, Status.ESME_RINVCMDID)


def test_an_unreadable_request_is_answered_with_its_own_response_and_status():
    data = bytes.fromhex("0000001400000005000000000000002b01020304")
    with pytest.raises(MalformedPdu) as caught:
        decode(frame(data))
    answer = caught.value.answer()
    assert answer is not None and answer.command is Command.DELIVER_SM_RESP
    assert (answer.sequence, answer.status) == (43, Status.ESME_RINVMSGLEN)


def test_a_bad_body_length_is_invalid_command_length():
    good = encode(DeliverSm(44, ShortMessage(source=Address("1"), destination=Address("2"))))
    lying = Header(len(good) + 3, 5, 0, 44).pack() + good[16:] + b"\x00\x00\x00"
    with pytest.raises(MalformedPdu) as caught:
        decode(frame(lying))
    answer = caught.value.answer()
    assert answer is not None and answer.status != Status.ESME_ROK


def test_a_deliver_sm_with_a_tlv_the_library_cannot_read_is_kept_without_it():
    mo = DeliverSm(
        45,
        ShortMessage(
            source=Address("989121234567"),
            destination=Address("1234"),
            short_message=b"*141#",
            receipted_message_id="r-1",
        ),
    )
    body = encode(mo)[16:] + bytes.fromhex("0501000102")  # ussd_service_op
    data = Header(16 + len(body), 5, 0, 45).pack() + body
    decoded = decode(frame(data))
    assert decoded == DeliverSm(45, mo.message, ignored_tlvs=(0x0501,))
    bad = encode(mo)[16:] + bytes.fromhex("0427000109")  # no message_state 9
    with pytest.raises(MalformedPdu):
        decode(frame(Header(16 + len(bad), 5, 0, 46).pack() + bad))


def test_an_unreadable_response_is_not_answered():
    data = bytes.fromhex("0000001080000004000000000000002c")  # no message_id
    with pytest.raises(MalformedPdu) as caught:
        decode(frame(data))
    assert caught.value.answer() is None


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_frames_are_cut_by_command_length():
    async def frames():
        data = encode(Bare(Command.ENQUIRE_LINK, 1)) + encode(SubmitSmResp(2, 0, "abc"))
        reader = _reader(data)
        first, second = await read_frame(reader), await read_frame(reader)
        with pytest.raises(asyncio.IncompleteReadError):
            await read_frame(reader)
        return first, second

    first, second = asyncio.run(frames())
    assert decode(first) == Bare(Command.ENQUIRE_LINK, 1)
    assert decode(second) == SubmitSmResp(2, 0, "abc")


def test_a_frame_reader_cuts_a_burst_and_joins_pdus_split_across_reads():
    """What the SMSC wrote in one go comes out of one call; a PDU cut by the TCP stream
    waits for its rest; the bytes after the last whole PDU are kept for the next read."""
    pdus = [SubmitSmResp(n, 0, f"id-{n}") for n in range(1, 6)] + [Bare(Command.ENQUIRE_LINK, 6)]
    data = b"".join(encode(pdu) for pdu in pdus)
    cut_at = len(encode(pdus[0])) * 3 + 5  # inside the fourth PDU

    async def read() -> list[list[object]]:
        reader = asyncio.StreamReader()
        frames = FrameReader(reader)
        reader.feed_data(data[:cut_at])
        first = [decode(f) for f in await frames.frames()]
        reader.feed_data(data[cut_at : cut_at + 3])
        waiting = asyncio.ensure_future(frames.frames())
        await asyncio.sleep(0)
        assert not waiting.done(), "a part of a PDU is not a PDU"
        reader.feed_data(data[cut_at + 3 :])
        reader.feed_eof()
        second = [decode(f) for f in await waiting]
        with pytest.raises(asyncio.IncompleteReadError):
            await frames.frames()
        return [first, second]

    first, second = asyncio.run(read())
    assert first == pdus[:3]
    assert second == pdus[3:]


def test_a_frame_reader_gives_the_good_pdus_before_refusing_a_bad_length():
    good = encode(Bare(Command.ENQUIRE_LINK, 1))

    async def read() -> tuple[list[Frame], FrameError]:
        frames = FrameReader(_reader(good + Header(8, 5, 0, 7).pack()), max_length=66_560)
        before = await frames.frames()
        with pytest.raises(FrameError) as caught:
            await frames.frames()
        return before, caught.value

    before, error = asyncio.run(read())
    assert [decode(f) for f in before] == [Bare(Command.ENQUIRE_LINK, 1)]
    assert error.header.sequence == 7


@pytest.mark.parametrize("length", [0, 8, 15, 70_000, 0xFFFFFFFF])
def test_impossible_command_lengths_are_refused_without_reading_the_body(length):
    async def read():
        return await read_frame(_reader(Header(length, 5, 0, 7).pack()), max_length=66_560)

    with pytest.raises(FrameError) as caught:
        asyncio.run(read())
    assert caught.value.header.sequence == 7


def test_status_names_for_logs():
    assert status_name(Status.ESME_RINVPASWD) == "ESME_RINVPASWD"
    assert describe(Status.ESME_RINVPASWD) == "ESME_RINVPASWD (Invalid Password)"
    assert status_name(0x400) == "0x00000400"


def test_sequence_numbers_wrap_to_one():
    assert next_sequence(0) == 1
    assert next_sequence(41) == 42
    assert next_sequence(MAX_SEQUENCE) == 1


# --- text by data_coding (through vasguard.domain.segmentation) -------------------------


def test_gsm7_with_escapes_round_trips_as_data_coding_0():
    text = "Balance: 10€ [plan] {a|b} ~^\\"
    encoded = encode_text(text, 1)
    assert (encoded.data_coding, encoded.esm_class, len(encoded.parts)) == (GSM7, 0, 1)
    assert decode_text(GSM7, encoded.parts[0]) == text


def test_long_ucs2_is_concatenated_with_udhi_and_joins_back():
    text = "فهرست سرویس‌ها 🎵 " * 20
    encoded = encode_text(text, 200)
    assert encoded.data_coding == UCS2 and encoded.esm_class == 0x40
    assert len(encoded.parts) > 1 and all(len(p) <= 140 for p in encoded.parts)
    assert decode_concatenated(UCS2, list(reversed(encoded.parts))) == text
    assert text.startswith(decode_text(UCS2, encoded.parts[0], udh=True))


def test_long_gsm7_parts_join_back():
    text = "0000 " * 80
    encoded = encode_text(text, 3)
    assert encoded.data_coding == GSM7 and len(encoded.parts) == 3
    assert decode_concatenated(GSM7, encoded.parts) == text


@pytest.mark.parametrize(
    ("data_coding", "text"),
    [
        (GSM7, "Reply 1 to stop {plan} [x] 10€ @£$ ÄÖÑÜ"),
        (UCS2, "۰۰۰۰ لیست سرویس‌ها 🎵"),
        (LATIN1, "Grüße aus Köln, ça va?"),
    ],
)
def test_text_round_trips_through_a_deliver_sm_on_the_wire(data_coding, text):
    user_data = text.encode("latin-1") if data_coding == LATIN1 else encode_text(text, 1).parts[0]
    if data_coding != LATIN1:
        assert encode_text(text, 1).data_coding == data_coding
    mo = ShortMessage(
        source=Address("989121234567"),
        destination=Address("1234"),
        short_message=user_data,
        data_coding=data_coding,
    )
    decoded = roundtrip(DeliverSm(1, mo))
    assert decode_text(decoded.message.data_coding, decoded.message.user_data) == text


def test_mo_alphabets():
    assert decode_text(LATIN1, "café à Zürich".encode("latin-1")) == "café à Zürich"
    assert decode_text(IA5, b"STOP") == "STOP"
    assert decode_text(0xF0, bytes([0x48, 0x69])) == "Hi", "message class 0, default alphabet"
    assert decode_text(UCS2, "۱۲۳".encode("utf-16-be")) == "۱۲۳"


def test_a_16_bit_reference_concatenated_mo_joins():
    parts = [
        bytes([6, 8, 4, 0x12, 0x34, 2, seq]) + chunk.encode("utf-16-be")
        for seq, chunk in ((2, "دنیا"), (1, "سلام "))
    ]
    assert decode_concatenated(UCS2, parts) == "سلام دنیا"


@pytest.mark.parametrize(
    ("data_coding", "data", "udh"),
    [
        (0x04, b"\x00\x01", False),  # 8-bit binary
        (0xF4, b"\x00", False),  # message class group, 8-bit data
        (UCS2, b"\x00\x41\x00", False),  # odd UCS-2
        (GSM7, b"\x80", False),  # not a septet
        (GSM7, b"\x05\x00\x03", True),  # UDHI with a cut header
    ],
)
def test_what_is_not_text_is_unreadable(data_coding, data, udh):
    with pytest.raises(UnreadableText):
        decode_text(data_coding, data, udh=udh)


# --- pacing and back-off ----------------------------------------------------------------


def test_back_off_grows_with_jitter_up_to_the_maximum_and_resets():
    backoff = Backoff(0.1, 1.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays[0] == pytest.approx(0.1)
    assert all(0.1 <= d <= 1.0 for d in delays)
    assert delays[-1] >= 0.5 and len(set(delays)) > 4
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def test_token_bucket_paces_to_the_rate():
    async def take(n: int) -> float:
        bucket = TokenBucket(100.0, burst=5)
        started = time.monotonic()
        await asyncio.gather(*(bucket.acquire() for _ in range(n)))
        return time.monotonic() - started

    elapsed = asyncio.run(take(25))
    assert 0.18 <= elapsed < 1.0, "5 at once, then 20 at 100/s"


def test_config_says_what_is_wrong():
    with pytest.raises(ValueError, match="password must be ASCII of at most 8") as caught:
        SmppConfig(host="h", port=2775, system_id="vas", password="far-too-long", window=0)
    assert "window must be at least 1" in str(caught.value)


# --- an MT part as a submit_sm body (channels.smpp.engine.short_message) ----------------


def _part(text: str, encoding: str, number: int = 1, parts: int = 1) -> Outgoing:
    return Outgoing(
        part_id=1,
        message_id=300,
        msisdn="13800000001",
        source="10086977",
        encoding=encoding,  # type: ignore[arg-type]
        number=number,
        parts=parts,
        text=text,
        attempts=1,
    )


def test_a_whole_mt_too_long_for_short_message_goes_in_message_payload():
    """A one-part MT whose user data passes 254 octets (claimed whole for
    message_payload) goes in the TLV, with no UDH; one that fits stays in short_message;
    a part of a cut MT keeps its UDH. Each encodes and decodes back unchanged."""
    text = "您订购的业务：" * 30  # 210 UCS-2 characters, 420 octets
    whole = short_message(_part(text, "ucs2"))
    assert whole.short_message == b"" and whole.message_payload == text.encode("utf-16-be")
    assert (whole.data_coding, whole.esm_class, whole.registered_delivery) == (8, 0, 1)
    fits = short_message(_part("天气预报已退订", "ucs2"))
    assert fits.message_payload is None and fits.short_message == "天气预报已退订".encode(
        "utf-16-be"
    )
    cut = short_message(_part(text[:67], "ucs2", number=2, parts=4))
    assert cut.message_payload is None and cut.esm_class == 0x40
    assert cut.short_message[:6] == bytes([5, 0, 3, 300 % 256, 4, 2])
    for message in (whole, fits, cut):
        data = encode(SubmitSm(9, message))
        assert decode(Frame(Header.unpack(data[:16]), data)) == SubmitSm(9, message)
