"""Delivery receipts read from SMPP 3.4 Appendix B text and TLVs, without a peer."""

from datetime import UTC, datetime

import pytest

from vasguard.domain.receipts import UnreadableReceipt, as_receipt, read_report

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TEXT = (
    "id:npm0000002a sub:001 dlvrd:001 submit date:2611241000 done date:2611241001 "
    "stat:DELIVRD err:000 text:hello"
)


def test_appendix_b_text_gives_the_id_and_stat():
    report = read_report(TEXT)
    assert (report.smsc_message_id, report.stat, report.error) == ("npm0000002a", "DELIVRD", "000")
    assert as_receipt(report, AT).delivered


def test_the_tlvs_win_over_the_text():
    report = read_report(TEXT, receipted_message_id="tlv-id", message_state=5)
    assert (report.smsc_message_id, report.stat) == ("tlv-id", "UNDELIV")
    receipt = as_receipt(report, AT)
    assert receipt is not None and not receipt.delivered and receipt.stat == "UNDELIV"


@pytest.mark.parametrize("stat", ["UNDELIV", "EXPIRED", "REJECTD", "DELETED"])
def test_final_failures_carry_their_stat(stat):
    receipt = as_receipt(read_report(f"id:7 stat:{stat.lower()}"), AT)
    assert receipt is not None and not receipt.delivered and receipt.stat == stat


@pytest.mark.parametrize("stat", ["ACCEPTD", "ENROUTE", "UNKNOWN"])
def test_interim_states_are_not_applied(stat):
    assert as_receipt(read_report(f"id:7 stat:{stat}"), AT) is None


def test_a_receipt_without_id_or_stat_is_unreadable():
    with pytest.raises(UnreadableReceipt):
        read_report("sub:001 dlvrd:001 stat:DELIVRD")
    with pytest.raises(UnreadableReceipt):
        read_report("id:12 sub:001")
