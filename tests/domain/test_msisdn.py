import pytest
from hypothesis import given
from hypothesis import strategies as st

from vasguard.domain.msisdn import (
    InvalidMsisdn,
    SegmentRange,
    SegmentTable,
    UnknownSegment,
    load_provinces,
    load_segments,
    normalise,
)


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "008613800138000",
        "8613800138000",
        "１３８００１３８０００",
        "+86 138 0013 8000",
        "138-0013-8000",
        " 13800138000 ",
        "(+86) 138.0013.8000",
        "＋８６１３８００１３８０００",
    ],
)
def test_accepted_forms_normalise_to_eleven_digits(raw):
    assert normalise(raw) == "13800138000"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1380013800",
        "138001380001",
        "23800138000",
        "12800138000",
        "+8513800138000",
        "1380013800O",
        "13800138000x",
        "+86+8613800138000",
        "٣٨٠٠١٣٨٠٠٠١",
        "10086",
        "0013800138000",
    ],
)
def test_other_forms_are_refused_with_a_reason(raw):
    with pytest.raises(InvalidMsisdn, match="not a mobile number"):
        normalise(raw)


@given(st.text(max_size=40))
def test_normalise_returns_eleven_ascii_digits_or_refuses(raw):
    try:
        result = normalise(raw)
    except InvalidMsisdn:
        return
    assert len(result) == 11 and result.isascii() and result.isdigit() and result[0] == "1"


def test_thirty_one_provinces_ship_with_the_package():
    provinces = load_provinces()
    assert len(provinces) == 31
    assert len({p.code for p in provinces}) == 31


def test_every_segment_belongs_to_a_known_province_and_all_provinces_have_segments():
    codes = {p.code for p in load_provinces()}
    ranges = load_segments().ranges
    assert {r.province for r in ranges} == codes
    assert all(r.first <= r.last and len(r.first) == 7 for r in ranges)


def test_province_lookup_by_segment():
    table = SegmentTable(
        [SegmentRange("1380000", "1380999", "11"), SegmentRange("1381000", "1381999", "31")]
    )
    assert table.province_of("13800001234") == "11"
    assert table.province_of("13809991234") == "11"
    assert table.province_of("13810001234") == "31"
    with pytest.raises(UnknownSegment):
        table.province_of("13820001234")
    with pytest.raises(UnknownSegment):
        table.province_of("13000001234")


def test_overlapping_segments_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        SegmentTable(
            [SegmentRange("1380000", "1380500", "11"), SegmentRange("1380500", "1380999", "31")]
        )
