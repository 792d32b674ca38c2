"""MT part rules without a database: the cut, the back-off, a part's user data."""

from datetime import UTC, datetime, timedelta

from vasguard.domain.mt_parts import OWNER_LENGTH, THROTTLE_MAX, Claim, cut, throttle_delay
from vasguard.domain.segmentation import (
    decode_parts,
    encode_part,
    read_concatenation,
    split,
)


def test_replies_are_cut_between_lines_as_they_were_counted():
    text = "\n".join(f"{n}.天气预报（星云信息）2元/月" for n in range(1, 9))
    assert cut(text, reply=True) == split(text, avoid_breaking_lines=True)
    assert cut(text, reply=False) == split(text)


def test_throttle_back_off_doubles_and_is_capped():
    assert [throttle_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert throttle_delay(40) == THROTTLE_MAX == timedelta(seconds=60)


def test_a_part_keeps_its_messages_encoding_and_joins_back():
    text = "清单：" + "abc " * 40
    parts = split(text).parts
    data = [encode_part(part, "ucs2", 7, n, len(parts)) for n, part in enumerate(parts, 1)]
    assert decode_parts(data, "ucs2") == text
    info = read_concatenation(data[-1])
    assert (info.reference, info.count, info.seq) == (7, len(parts), len(parts))
    assert info.payload == parts[-1].encode("utf-16-be")


def test_a_single_part_has_no_udh():
    assert encode_part("hi", "gsm7", 1, 1, 1) == bytes([0x68, 0x69])


def test_a_claims_owner_is_recorded_whole_or_cut_with_a_digest_that_keeps_it_apart():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    short = Claim("smpp@host:42", timedelta(seconds=30), at)
    assert short.owner_recorded == "smpp@host:42"
    pod = "vasguard-serve-7d9f8c6b5-x2k4q.province-gateways.cluster.local"
    east = Claim(f"smpp@{pod}:123456/east_provinces", timedelta(seconds=30), at)
    west = Claim(f"smpp@{pod}:123456/west_provinces", timedelta(seconds=30), at)
    assert len(east.owner_recorded) == OWNER_LENGTH == len(west.owner_recorded)
    assert east.owner_recorded != west.owner_recorded
    assert east.owner_recorded.startswith("smpp@vasguard-serve")
