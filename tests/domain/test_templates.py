"""Every reply and notice, in both languages, carries the information SMS-DIALOGUE.md requires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest

from vasguard.domain.segmentation import choose_encoding, split
from vasguard.domain.templates import (
    Branding,
    Cancellation,
    Language,
    ListingItem,
    PendingRequest,
    Templates,
)

ZH = Templates("zh")
EN = Templates("en")
BOTH = pytest.mark.parametrize("t", [ZH, EN], ids=["zh", "en"])


def _has(text: str, *needles: str) -> None:
    for needle in needles:
        assert needle in text, f"{needle!r} missing from {text!r}"


def _price(t: Templates, yuan: str) -> str:
    return f"{yuan}元" if t.language == "zh" else f"CNY {yuan}"


def _signed(t: Templates, text: str) -> None:
    assert text.startswith("【10086】" if t.language == "zh" else "[10086] ")


@BOTH
def test_order_confirmation_request(t: Templates) -> None:
    text = t.order_confirmation_request(
        provider="星空传媒", service="手机报", price_fen=300, code="4821"
    )
    _signed(t, text)
    _has(text, "星空传媒", "手机报", _price(t, "3"), "4821", "24")
    _has(text, *(["是4821", "免费"] if t.language == "zh" else ["Y4821", "free"]))


def test_order_confirmation_request_zh_wording() -> None:
    text = ZH.order_confirmation_request(provider="P", service="S", price_fen=300, code="1234")
    _has(text, "资费3元/月", "由P收取", "24小时内有效", "本短信免费")


@BOTH
def test_order_outcomes(t: Templates) -> None:
    confirmed = t.order_confirmed(provider="星空传媒", service="手机报", price_fen=300)
    _has(confirmed, "星空传媒", "手机报", _price(t, "3"))
    _has(t.order_declined(provider="星空传媒", service="手机报"), "星空传媒", "手机报")
    _has(t.confirmation_expired(provider="星空传媒", service="手机报"), "星空传媒", "手机报")
    _has(t.nothing_to_confirm(code="4821"), "4821")
    for text in (confirmed, t.nothing_to_confirm()):
        _signed(t, text)


@BOTH
def test_several_requests_open_names_each_code(t: Templates) -> None:
    pending = [PendingRequest("手机报", "星空传媒", "1111"), PendingRequest("天气", "云图", "2222")]
    yes, no = ("是", "否") if t.language == "zh" else ("Y", "N")
    _has(t.several_requests_open(pending), "手机报", "天气", f"{yes}1111", f"{yes}2222")
    _has(t.several_requests_open(pending, declining=True), f"{no}1111", f"{no}2222")


@BOTH
def test_charge_reminder(t: Templates) -> None:
    text = t.charge_reminder(
        ordered_at=datetime(2026, 11, 24, 10, 5),
        provider="星空传媒",
        service="手机报",
        service_code="12345678",
        price_fen=50,
        charge_at=datetime(2026, 11, 25, 10, 5),
    )
    _signed(t, text)
    _has(text, "星空传媒", "手机报", "12345678", _price(t, "0.5"), "TD12345678", "TS12345678")
    if t.language == "zh":
        _has(text, "2026年11月24日10:05", "2026年11月25日10:05", "本短信免费")
    else:
        _has(text, "2026-11-24 10:05", "2026-11-25 10:05", "free")


@BOTH
def test_plan_notices(t: Templates) -> None:
    ordered = t.plan_ordered(plan="畅享88", fee_fen=8800, effective_date=date(2026, 12, 1))
    changed = t.plan_ordered(
        plan="畅享88", fee_fen=8800, effective_date=date(2026, 12, 1), changed=True
    )
    effective = t.plan_effective(
        plan="畅享88", fee_fen=8800, effective_date=date(2026, 12, 1), included=["手机报", "彩铃"]
    )
    day = "2026年12月1日" if t.language == "zh" else "2026-12-01"
    for text in (ordered, changed, effective):
        _signed(t, text)
        _has(text, "畅享88", _price(t, "88"), day)
    assert ordered != changed
    _has(effective, "手机报", "彩铃")


def test_plan_effective_with_nothing_included() -> None:
    _has(
        ZH.plan_effective(plan="P", fee_fen=100, effective_date=date(2026, 1, 1), included=[]), "无"
    )


ITEMS = [
    ListingItem(1, "手机报", 300, "星空传媒"),
    ListingItem(2, "集团彩铃", 500, "中国移动", group=True),
    ListingItem(3, "天气预报", 200, "云图科技"),
]


@BOTH
def test_listing(t: Templates) -> None:
    text = t.listing(ITEMS)
    lines = text.split("\n")
    _signed(t, lines[0])
    per_month = "/月" if t.language == "zh" else "/month"
    mark = "[集团]" if t.language == "zh" else "[group]"
    assert lines[1] == f"1.手机报 {_price(t, '3')}{per_month} 星空传媒"
    _has(lines[2], "2.集团彩铃", mark, _price(t, "5"), "中国移动")
    assert mark not in lines[3]
    _has(lines[-1], "QX", "1,3")
    assert len(lines) == len(ITEMS) + 2


def test_listing_zh_instructions() -> None:
    assert ZH.listing(ITEMS).endswith(
        "回复序号退订对应业务，多个序号用逗号分隔（如1,3）；回复QX退订以上全部。本短信免费。"
    )


@BOTH
def test_empty_listing(t: Templates) -> None:
    text = t.listing([])
    _signed(t, text)
    if t.language == "zh":
        _has(text, "您目前没有订购任何包月增值业务")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_long_listing_splits_between_items(language: Language) -> None:
    items = [ListingItem(n, f"业务名称{n:02d}", 300 + n, f"合作伙伴{n:02d}") for n in range(1, 21)]
    text = Templates(language).listing(items)
    segmented = split(text, avoid_breaking_lines=True)
    assert segmented.count > 1
    for line in text.split("\n")[1:-1]:
        assert any(line in part for part in segmented.parts), line


@BOTH
def test_cancel_all_confirmation(t: Templates) -> None:
    text = t.cancel_all_confirmation(services=["手机报", "天气预报"], code="7777")
    _signed(t, text)
    _has(text, "手机报", "天气预报", "10")
    _has(text, "是7777" if t.language == "zh" else "Y7777")


@BOTH
@pytest.mark.parametrize(
    ("charged", "free_phrase_zh"),
    [
        ((True, True), None),
        ((False,), "本业务未产生任何费用"),
        ((False, False), "以上业务均未产生任何费用"),
        ((True, False), "其中天气预报未产生任何费用"),
    ],
)
def test_cancelled(t: Templates, charged: tuple[bool, ...], free_phrase_zh: str | None) -> None:
    names = ["手机报", "天气预报"][: len(charged)]
    text = t.cancelled([Cancellation(n, c) for n, c in zip(names, charged, strict=True)])
    _signed(t, text)
    _has(text, *names)
    if t.language == "zh":
        if free_phrase_zh is None:
            _has(text, "退订后不再收取费用")
            assert "未产生" not in text
        else:
            _has(text, free_phrase_zh)
    else:
        assert ("no fee was incurred" in text.lower()) == (False in charged)


def test_cancelled_needs_a_service() -> None:
    with pytest.raises(ValueError):
        ZH.cancelled([])


@BOTH
def test_complaint_registered(t: Templates) -> None:
    text = t.complaint_registered(service="手机报", ticket="C2026112400042")
    _signed(t, text)
    _has(text, "手机报", "C2026112400042")
    _has(text, "暂停扣费" if t.language == "zh" else "on hold")


@BOTH
def test_complaint_resolved_says_the_refund_only_when_there_is_one(t: Templates) -> None:
    refunded = t.complaint_resolved(ticket="TS2611240000001", refunded_fen=350)
    _signed(t, refunded)
    _has(refunded, "TS2611240000001", "3.5元" if t.language == "zh" else "CNY 3.5")
    plain = t.complaint_resolved(ticket="TS2611240000001", refunded_fen=None)
    nothing = t.complaint_resolved(ticket="TS2611240000001", refunded_fen=0)
    assert plain == nothing and "退款" not in plain and "refund" not in plain


@BOTH
def test_help_lists_commands(t: Templates) -> None:
    text = t.help()
    _has(text, "0000", "QX", "TD", "TS", "10086")
    _has(text, *(["是", "否", "BZ"] if t.language == "zh" else ["Y", "N", "HELP"]))


@BOTH
def test_not_understood_quotes_and_points_to_0000(t: Templates) -> None:
    _has(t.not_understood("你好"), "你好", "0000")
    long = t.not_understood("x" * 500 + "\n" + "y")
    assert "x" * 30 not in long
    assert "\n" not in long


@BOTH
def test_ambiguous_asks_to_be_precise(t: Templates) -> None:
    _has(t.ambiguous("TD12"), "TD12", "0000")


@BOTH
def test_listing_problems(t: Templates) -> None:
    _has(t.listing_expired(), "0000")
    _has(t.items_out_of_range(items=[5, 7], size=3), "5,7", "3", "0000")
    _has(t.already_cancelled(["手机报", "天气预报"]), "手机报", "天气预报")
    _has(t.unknown_service_code("SP999"), "SP999", "0000")


@BOTH
def test_service_code_needed(t: Templates) -> None:
    _has(t.service_code_needed("cancel"), "TD", "0000")
    _has(t.service_code_needed("complain"), "TS", "0000")


def test_branding_is_configurable() -> None:
    branding = Branding(signature_zh="【10658】", signature_en="[10658]", service_number="10658")
    assert Templates("zh", branding).help().startswith("【10658】")
    _has(Templates("en", branding).help(), "[10658]", "10658")


def test_english_ascii_notices_fit_gsm7() -> None:
    text = EN.order_confirmation_request(provider="Acme", service="News", price_fen=300, code="1")
    assert choose_encoding(text) == "gsm7"
    assert choose_encoding(EN.not_understood("z" * 100)) == "gsm7"


ALL_RENDERERS: list[Callable[[Templates], str]] = [
    lambda t: t.help(),
    lambda t: t.listing_expired(),
    lambda t: t.listing([]),
    lambda t: t.nothing_to_confirm(),
]


@pytest.mark.parametrize("render", ALL_RENDERERS)
def test_languages_differ(render: Callable[[Templates], str]) -> None:
    assert render(ZH) != render(EN)
