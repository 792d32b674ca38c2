"""MT part rules without a database: the cut, the back-off, a part's user data."""

from datetime import timedelta

from vasguard.domain.mt_parts import THROTTLE_MAX, cut, throttle_delay
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
