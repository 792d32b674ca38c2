"""What a deliver_sm is and the id an MO gets, without a peer or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vasguard.channels.smpp.mo import (
    PartMo,
    ReceiptIn,
    Unreadable,
    WholeMo,
    classify,
    incomplete_text,
    mo_id,
    whole_text,
)
from vasguard.channels.smpp.pdus import Address, DeliverSm, Sar, ShortMessage
from vasguard.domain.concatenation import FragmentSet, SetKey
from vasguard.domain.messages import NewMo
from vasguard.domain.mo_ids import MoIds

T = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def deliver(data: bytes = b"0000", **fields) -> DeliverSm:
    message = ShortMessage(
        source=Address("13800000001"), destination=Address("10086"), short_message=data, **fields
    )
    return DeliverSm(1, message)


def test_a_receipt_is_read_from_its_text_and_tlvs():
    pdu = deliver(
        b"id:abc sub:001 dlvrd:001 submit date:2611241000 done date:2611241000 stat:UNDELIV",
        esm_class=0x04,
        receipted_message_id="abc",
        message_state=5,
    )
    item = classify(pdu, MoIds(), T)
    assert isinstance(item, ReceiptIn)
    assert (item.report.smsc_message_id, item.report.stat) == ("abc", "UNDELIV")


def test_a_receipt_without_an_id_is_unreadable():
    assert isinstance(classify(deliver(b"stat:DELIVRD", esm_class=0x04), MoIds(), T), Unreadable)


def test_whole_mos_in_each_alphabet_and_in_message_payload():
    ids = MoIds()
    ucs2 = classify(deliver("退订".encode("utf-16-be"), data_coding=8), ids, T)
    assert isinstance(ucs2, WholeMo) and ucs2.mo.text == "退订"
    latin = classify(deliver("café".encode("latin-1"), data_coding=3), ids, T)
    assert isinstance(latin, WholeMo) and latin.mo.text == "café"
    gsm = classify(deliver(bytes([0x1B, 0x65, 0x31])), ids, T)  # ESC e = €
    assert isinstance(gsm, WholeMo) and gsm.mo.text == "€1"
    payload = classify(deliver(b"", message_payload=b"TD80100001"), ids, T)
    assert isinstance(payload, WholeMo) and payload.mo.text == "TD80100001"
    assert (payload.mo.msisdn, payload.mo.to) == ("13800000001", "10086")


def test_an_alphabet_not_read_here_is_unreadable():
    assert isinstance(classify(deliver(b"\x01\x02", data_coding=0x04), MoIds(), T), Unreadable)


def test_parts_by_8_and_16_bit_udh_and_by_sar():
    ids = MoIds()
    eight = classify(deliver(bytes.fromhex("050003ab0201") + b"00", esm_class=0x40), ids, T)
    sixteen = classify(deliver(bytes.fromhex("06080412340302") + b"00", esm_class=0x40), ids, T)
    sar = classify(deliver(b"00", sar=Sar(77, 2, 2)), ids, T)
    assert isinstance(eight, PartMo) and isinstance(sixteen, PartMo) and isinstance(sar, PartMo)
    assert (eight.fragment.key.reference, eight.fragment.seqnum) == (0xAB, 1)
    assert (sixteen.fragment.key, sixteen.fragment.seqnum) == (
        SetKey("13800000001", "10086", 0x1234, 3),
        2,
    )
    assert (sar.fragment.key.reference, sar.fragment.key.total, sar.fragment.payload) == (
        77,
        2,
        b"00",
    )


def test_a_udh_without_concatenation_is_a_whole_mo():
    item = classify(deliver(bytes.fromhex("0605040b8423f0") + b"hi", esm_class=0x40), MoIds(), T)
    assert isinstance(item, WholeMo) and item.mo.text == "hi"


def test_the_same_mo_redelivered_within_the_window_keeps_its_id():
    ids = MoIds(timedelta(minutes=10))
    first = mo_id(ids, deliver(), T.replace(minute=9, second=59))
    assert mo_id(ids, deliver(), T.replace(minute=10, second=30)) == first  # across a boundary
    assert mo_id(ids, deliver(b"0001"), T) != first
    assert mo_id(ids, deliver(), T.replace(minute=25)) != first  # a new MO, later
    assert mo_id(MoIds(), deliver(), T.replace(minute=9, second=59)) == first  # a restart
    assert mo_id(ids, deliver(receipted_message_id="X1"), T) == "smsc:X1"


def test_a_complete_set_is_read_whole_and_an_incomplete_one_with_gaps():
    key = SetKey("13800000001", "10086", 1, 3)
    whole = FragmentSet(key, 8, {1: "退".encode("utf-16-be"), 2: b"\x8b", 3: b"\xa2"}, T)
    assert whole.complete and whole_text(whole) == "退订"
    partial = FragmentSet(key, 0, {1: b"TD", 3: b"01"}, T)
    assert not partial.complete and incomplete_text(partial) == "TD[…]01"
    assert whole.mo_key() != FragmentSet(key, 8, {**whole.payloads, 3: b"\xa3"}, T).mo_key()


def test_a_nul_character_is_kept_as_a_replacement_character_not_lost():
    """The SMPP path passes a NUL on; the intake stores it as U+FFFD (``NewMo.clean``)."""
    ids = MoIds()
    ucs2 = classify(deliver("00\x0000".encode("utf-16-be"), data_coding=8), ids, T)
    assert isinstance(ucs2, WholeMo) and NewMo.clean(ucs2.mo.text) == "00\ufffd00"
    latin = classify(deliver(b"TD\x00", data_coding=3), ids, T)
    assert isinstance(latin, WholeMo) and NewMo.clean(latin.mo.text) == "TD\ufffd"
    gsm = classify(deliver(b"\x00"), ids, T)  # GSM-7 0x00 is @
    assert isinstance(gsm, WholeMo) and gsm.mo.text == "@"
