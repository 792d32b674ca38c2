"""The MO parser: every form of the SMS-DIALOGUE.md command table, and totality."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vasguard.domain.commands import (
    DEFAULT_KEYWORDS,
    ENGLISH_REGIME,
    REASON_BAD_CODE,
    REASON_EMPTY,
    REASON_ITEM_TOO_LONG,
    REASON_ITEM_ZERO,
    REASON_REVERSED_RANGE,
    REASON_UNKNOWN,
    CancelAll,
    CancelItemOrService,
    CancelItems,
    CancelReminded,
    CancelService,
    Command,
    Complain,
    Confirm,
    Decline,
    Help,
    Keywords,
    ListSubscriptions,
    NotUnderstood,
    parse,
)

COMMAND_TYPES = (
    ListSubscriptions,
    CancelItems,
    CancelAll,
    CancelReminded,
    CancelService,
    CancelItemOrService,
    Confirm,
    Decline,
    Complain,
    Help,
    NotUnderstood,
)

SPEC_TABLE: list[tuple[str, Command]] = [
    # list
    ("0000", ListSubscriptions()),
    ("00000", ListSubscriptions()),
    ("００００", ListSubscriptions()),
    (" 0000\n", ListSubscriptions()),
    # cancel items of the latest listing
    ("1", CancelItems((1,))),
    ("1,3", CancelItems((1, 3))),
    ("1，3", CancelItems((1, 3))),
    ("1、3", CancelItems((1, 3))),
    ("1 3 5", CancelItems((1, 3, 5))),
    (" 1 3 5 ", CancelItems((1, 3, 5))),
    ("1\u30003", CancelItems((1, 3))),
    ("3,1,3", CancelItems((1, 3))),
    ("2-4", CancelItems((2, 3, 4))),
    ("2－4", CancelItems((2, 3, 4))),
    ("2 - 4", CancelItems((2, 3, 4))),
    ("2~4", CancelItems((2, 3, 4))),
    ("1,5-6,9", CancelItems((1, 5, 6, 9))),
    ("01", CancelItems((1,))),
    ("99", CancelItems((99,))),
    ("100", CancelItems((100,))),
    ("999", CancelItems((999,))),
    ("001", CancelItems((1,))),
    ("99,100,101", CancelItems((99, 100, 101))),
    ("98-101", CancelItems((98, 99, 100, 101))),
    ("TD1,3", CancelItems((1, 3))),
    ("TD 1,3", CancelItems((1, 3))),
    ("ＴＤ１，３", CancelItems((1, 3))),
    ("td1、3", CancelItems((1, 3))),
    ("TD2-4", CancelItems((2, 3, 4))),
    ("TD100,101", CancelItems((100, 101))),
    # TD + a number that can be an item: item or service code, the service layer decides
    ("TD1", CancelItemOrService(1, "1")),
    ("td 12", CancelItemOrService(12, "12")),
    ("TD05", CancelItemOrService(5, "05")),
    ("TD100", CancelItemOrService(100, "100")),
    ("TD123", CancelItemOrService(123, "123")),
    ("td 999", CancelItemOrService(999, "999")),
    # cancel all (after confirmation)
    ("QX", CancelAll()),
    ("qx", CancelAll()),
    ("全部", CancelAll()),
    ("TDQX", CancelAll()),
    ("ｔｄｑｘ", CancelAll()),
    # cancel the reminded service
    ("TD", CancelReminded()),
    ("td", CancelReminded()),
    # cancel by service code
    ("TD12345678", CancelService("12345678")),
    ("TD 12345678", CancelService("12345678")),
    ("TD000", CancelService("000")),
    ("TD1234", CancelService("1234")),
    ("tdsp80012345", CancelService("SP80012345")),
    ("TD SP80012345", CancelService("SP80012345")),
    # confirm / decline
    ("是", Confirm(None)),
    ("Y", Confirm(None)),
    ("y", Confirm(None)),
    ("YES", Confirm(None)),
    ("yes", Confirm(None)),
    ("是1234", Confirm("1234")),
    ("是 1234", Confirm("1234")),
    ("Y 1234", Confirm("1234")),
    ("YES1234", Confirm("1234")),
    ("是１２３４", Confirm("1234")),
    ("否", Decline(None)),
    ("N", Decline(None)),
    ("no", Decline(None)),
    ("否1234", Decline("1234")),
    ("N 0042", Decline("0042")),
    ("NO0042", Decline("0042")),
    # complain
    ("TS", Complain(None, "")),
    ("TS 信号不好", Complain(None, "信号不好")),
    ("TS 扣费不明", Complain(None, "扣费不明")),
    ("TS信号差", Complain(None, "信号差")),
    ("TS12345678 乱扣费", Complain("12345678", "乱扣费")),
    ("TS12345678信号差", Complain("12345678", "信号差")),
    ("ts 12345678 乱扣费", Complain("12345678", "乱扣费")),
    ("TSsp80012345", Complain("SP80012345", "")),
    ("TS 5G 信号差", Complain(None, "5G 信号差")),
    ("TS Why Charged", Complain(None, "Why Charged")),
    # help
    ("BZ", Help()),
    ("bz", Help()),
    ("帮助", Help()),
    ("HELP", Help()),
    ("help", Help()),
    ("?", Help()),
    ("？", Help()),
]


@pytest.mark.parametrize(("text", "expected"), SPEC_TABLE)
def test_spec_forms(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", REASON_EMPTY),
        ("   ", REASON_EMPTY),
        ("\x00\u200b", REASON_EMPTY),
        ("0", REASON_ITEM_ZERO),
        ("00", REASON_ITEM_ZERO),
        ("1,0", REASON_ITEM_ZERO),
        ("TD0", REASON_ITEM_ZERO),
        ("000", REASON_ITEM_ZERO),
        ("TD00", REASON_ITEM_ZERO),
        ("000000", REASON_ITEM_TOO_LONG),
        ("1234", REASON_ITEM_TOO_LONG),
        ("0001", REASON_ITEM_TOO_LONG),
        ("1000", REASON_ITEM_TOO_LONG),
        ("1-1000", REASON_ITEM_TOO_LONG),
        ("99,100,1000", REASON_ITEM_TOO_LONG),
        ("1³", REASON_UNKNOWN),
        ("4-2", REASON_REVERSED_RANGE),
        ("TD4-2", REASON_REVERSED_RANGE),
        ("是12", REASON_BAD_CODE),
        ("Y12345", REASON_BAD_CODE),
        ("N0", REASON_BAD_CODE),
    ],
)
def test_rejected_with_reason(text: str, reason: str) -> None:
    result = parse(text)
    assert isinstance(result, NotUnderstood)
    assert result.reason == reason


@pytest.mark.parametrize(
    "text",
    ["你好", "NONE", "YESTERDAY", "是的", "TSUNAMI", "TS5G信号差", "TS12", "TDXYZ", "QX1", "1.3"],
)
def test_anything_else_is_not_understood(text: str) -> None:
    assert isinstance(parse(text), NotUnderstood)


def test_not_understood_keeps_normalised_text() -> None:
    assert parse("  ＡＢＣ  ") == NotUnderstood("ABC", "unknown command")


def test_hidden_characters_separate_but_never_join() -> None:
    assert parse("1\u200b3") == CancelItems((1, 3))
    assert isinstance(parse("Q\u200bX"), NotUnderstood)


def test_no_all_zero_text_cancels_anything() -> None:
    for n in range(1, 12):
        result = parse("0" * n)
        assert isinstance(result, ListSubscriptions | NotUnderstood), n


def test_full_range_is_allowed() -> None:
    assert parse("1-999") == CancelItems(tuple(range(1, 1000)))


@given(st.integers(1, 999), st.integers(0, 998))
def test_every_item_number_and_range_up_to_999(first: int, length: int) -> None:
    last = min(first + length, 999)
    assert parse(str(first)) == CancelItems((first,))
    assert parse(f"{first}-{last}") == CancelItems(tuple(range(first, last + 1)))
    assert parse(f"TD{first}") == CancelItemOrService(first, str(first))


@given(st.integers(1000, 10**21 - 1))
def test_four_digits_or_more_are_no_item_but_td_takes_them_as_a_code(n: int) -> None:
    assert parse(str(n)) == NotUnderstood(str(n), REASON_ITEM_TOO_LONG)
    assert parse(f"TD{n}") == CancelService(str(n))


# --- Unicode folding: full-width forms only ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("１００", CancelItems((100,))),
        ("１－３", CancelItems((1, 2, 3))),
        ("１～３", CancelItems((1, 2, 3))),
        ("９９，１００", CancelItems((99, 100))),
        ("1､3", CancelItems((1, 3))),  # the half-width 顿号, a separator as NFKC made it
        ("ＴＤ１", CancelItemOrService(1, "1")),
        ("ＴＤ１００", CancelItemOrService(100, "100")),
        ("ＴＤ　１２３４５６７８", CancelService("12345678")),
        ("ｔｄｓｐ８００１２３４５", CancelService("SP80012345")),
        ("ＱＸ", CancelAll()),
        ("ＴＤ", CancelReminded()),
        ("ｙｅｓ", Confirm(None)),
        ("ＹＥＳ１２３４", Confirm("1234")),
        ("Ｎ　００４２", Decline("0042")),
        ("ｂｚ", Help()),
        ("ＴＳ１２３４５６７８　信号差", Complain("12345678", "信号差")),
    ],
)
def test_full_width_forms_fold_to_ascii(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1³",  # superscript: not item 13
        "¹",
        "①",  # circled
        "𝟏",  # mathematical bold
        "١",  # Arabic-Indic
        "१",  # Devanagari
        "Ⅰ",  # Roman numeral
        "1,①",
        "1-³",
        "¹⁰⁰",
        "𝟎𝟎𝟎𝟎",
        "TD①",
        "TD1³",
        "TD𝟏𝟐𝟑",
        "td¹²³⁴⁵⁶⁷⁸",
        "是¹²³⁴",
        "Y①②③④",
        "𝐐𝐗",  # mathematical letters are no keyword either
        "𝐘𝐄𝐒",
        "ＴＳ①②③④⑤⑥⑦⑧",
        "TS¹²³⁴⁵⁶⁷⁸",
        "TS12345678³ 信号差",
    ],
)
def test_other_digits_and_letters_are_not_folded(text: str) -> None:
    assert isinstance(parse(text), NotUnderstood)


def test_other_digits_after_ts_and_a_space_are_complaint_text() -> None:
    assert parse("TS ①②③ 信号差") == Complain(None, "①②③ 信号差")


_FULL_WIDTH_OF = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)} | {0x20: 0x3000}


@given(
    st.one_of(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
        st.lists(
            st.sampled_from(["TD", "TS", "QX", "yes", "n", "bz", "0", "1", "9", ",", "-", " "]),
            max_size=8,
        ).map("".join),
    )
)
def test_full_width_text_means_what_its_ascii_means(ascii_text: str) -> None:
    assert parse(ascii_text.translate(_FULL_WIDTH_OF)) == parse(ascii_text)


# Number characters that are neither ASCII nor full-width digits.
other_digits = st.characters(categories=["Nd", "No", "Nl"]).filter(
    lambda ch: not ("0" <= ch <= "9" or "０" <= ch <= "９")
)


@given(
    st.sampled_from(["", "TD", "td ", "TD1", "是", "Y", "NO ", "TS", "1,", "1-"]),
    st.lists(st.one_of(other_digits, st.sampled_from([",", "、", "-", "\u3000"])), min_size=1)
    .map("".join)
    .filter(lambda s: any(ch not in ",、-\u3000" for ch in s)),
)
def test_other_digits_never_make_an_item_code_or_keyword(prefix: str, digits: str) -> None:
    result = parse(prefix + digits)
    # "TS" and a separator: whatever follows is complaint text, about no named service.
    assert isinstance(result, NotUnderstood | Complain), result
    assert not isinstance(result, Complain) or result.service_code is None, result


def test_default_regime_has_no_stop_words() -> None:
    assert isinstance(parse("STOP"), NotUnderstood)
    assert isinstance(parse("STOP ALL"), NotUnderstood)
    assert isinstance(parse("LIST"), NotUnderstood)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", CancelReminded()),
        ("stop", CancelReminded()),
        ("STOP ALL", CancelAll()),
        ("stop  all", CancelAll()),
        ("STOP,ALL", CancelAll()),
        ("LIST", ListSubscriptions()),
        ("HELP", Help()),
        ("0000", ListSubscriptions()),
        ("TD1,3", CancelItems((1, 3))),
    ],
)
def test_english_regime(text: str, expected: Command) -> None:
    assert parse(text, ENGLISH_REGIME) == expected


def test_keywords_are_canonical_and_extensible() -> None:
    keywords = DEFAULT_KEYWORDS.extended(cancel_reminded=frozenset({"unsubscribe"}))
    assert parse("UNSUBSCRIBE", keywords) == CancelReminded()
    assert "UNSUBSCRIBE" in keywords.cancel_reminded


def test_keywords_used_twice_are_refused() -> None:
    with pytest.raises(ValueError, match="two commands"):
        Keywords(help=frozenset({"QX"}))


# Any code point, lone surrogates included (a lenient upstream decoder can produce them).
any_text = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs", "Cc", "Cf"])),
    max_size=2500,
)
command_like = st.lists(
    st.sampled_from(
        [
            "TD",
            "TS",
            "是",
            "Y",
            "N",
            "0",
            "1",
            "9",
            ",",
            "，",
            "、",
            "-",
            "－",
            " ",
            "Q",
            "X",
            "全部",
            "\u200b",
            "\x00",
            "😀",
            "ｔ",
            "１",
            "?",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300)
@given(st.one_of(any_text, command_like, st.text(min_size=2000, max_size=3000)))
def test_parse_is_total(text: str) -> None:
    result = parse(text)
    assert isinstance(result, COMMAND_TYPES)
    if isinstance(result, CancelItems):
        assert result.items == tuple(sorted(set(result.items)))
        assert all(1 <= n <= 999 for n in result.items)
