"""The texts the service number sends, in Simplified Chinese and English.

Every message carries what the customer needs to act on it without guessing (SMS-DIALOGUE.md):
who, what, how much, when, and the exact reply. Chinese texts use full-width punctuation;
prices come from ``money.yuan``/``yuan_en``. Inputs are plain values; times are expected to
be already in the subscriber's local zone. The 0000 listing puts one item per line so that
``segmentation.split(..., avoid_breaking_lines=True)`` never cuts an item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from vasguard.domain.money import yuan, yuan_en

Language = Literal["zh", "en"]

QUOTE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Branding:
    """The configured signature per language and the service number customers reply to."""

    signature_zh: str = "【10086】"
    signature_en: str = "[10086]"
    service_number: str = "10086"


DEFAULT_BRANDING = Branding()


@dataclass(frozen=True, slots=True)
class ListingItem:
    """One numbered line of a 0000 listing."""

    number: int
    service: str
    price_fen: int
    provider: str
    group: bool = False


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """An open request awaiting ``是{code}``, named so the customer can tell them apart."""

    service: str
    provider: str
    code: str


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A cancelled service and whether it had ever been charged."""

    service: str
    charged: bool


def _quote(text: str) -> str:
    """The customer's text, on one line and cut short (GSM-7-safe ellipsis), for quoting."""
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_LIMIT else flat[: QUOTE_LIMIT - 3] + "..."


@dataclass(frozen=True, slots=True)
class Templates:
    """Renders every reply and notice in one language with one branding."""

    language: Language = "zh"
    branding: Branding = DEFAULT_BRANDING

    @property
    def _zh(self) -> bool:
        return self.language == "zh"

    def _sign(self, zh: str, en: str) -> str:
        if self._zh:
            return self.branding.signature_zh + zh
        return f"{self.branding.signature_en} {en}"

    def _price(self, fen: int) -> str:
        return yuan(fen) if self._zh else yuan_en(fen)

    def _monthly(self, fen: int) -> str:
        return f"{yuan(fen)}/月" if self._zh else f"{yuan_en(fen)}/month"

    def _names(self, names: Sequence[str]) -> str:
        return ("、" if self._zh else ", ").join(names)

    def _when(self, at: datetime) -> str:
        if self._zh:
            return f"{at.year}年{at.month}月{at.day}日{at:%H:%M}"
        return f"{at:%Y-%m-%d %H:%M}"

    def _day(self, day: date) -> str:
        return f"{day.year}年{day.month}月{day.day}日" if self._zh else f"{day:%Y-%m-%d}"

    def order_confirmation_request(
        self, *, provider: str, service: str, price_fen: int, code: str, valid_hours: int = 24
    ) -> str:
        """二次确认: nothing is ordered unless the customer replies ``是{code}``."""
        price = self._monthly(price_fen)
        return self._sign(
            f"您正在订购{provider}的{service}，资费{price}，由{provider}收取。"
            f"回复“是{code}”确认订购，不回复或回复其他内容则不订购，{valid_hours}小时内有效。"
            "本短信免费。",
            f"You are ordering {service} from {provider} at {price}, charged by {provider}. "
            f'Reply "Y{code}" to confirm; no reply or any other reply means no order. '
            f"Valid for {valid_hours} hours. This SMS is free.",
        )

    def order_confirmed(self, *, provider: str, service: str, price_fen: int) -> str:
        price = self._monthly(price_fen)
        return self._sign(
            f"您已成功订购{provider}的{service}，资费{price}。扣费前我们会再次短信提醒您。",
            f"You have ordered {service} from {provider} at {price}. "
            "We will remind you by SMS before the first charge.",
        )

    def order_declined(self, *, provider: str, service: str) -> str:
        return self._sign(
            f"您已拒绝订购{provider}的{service}，不会产生任何费用。",
            f"You have declined {service} from {provider}. You will not be charged.",
        )

    def confirmation_expired(self, *, provider: str, service: str) -> str:
        """The request existed but its validity is over: it cannot be confirmed any more."""
        return self._sign(
            f"您订购{provider}的{service}的确认已过期，本次未订购，不会产生任何费用。"
            "如仍需要，请重新办理。",
            f"The request to order {service} from {provider} has expired; nothing was "
            "ordered and you will not be charged. Please order again if you still want it.",
        )

    def nothing_to_confirm(self, *, code: str | None = None) -> str:
        """No open request (with that code): the answer changes nothing."""
        zh_code = f"确认码{code}" if code else ""
        en_code = f" with code {code}" if code else ""
        return self._sign(
            f"您目前没有{zh_code}待确认的订购，本次回复未办理任何业务。",
            f"You have no pending request{en_code}. Nothing was changed.",
        )

    def several_requests_open(
        self, pending: Sequence[PendingRequest], *, declining: bool = False
    ) -> str:
        """A bare ``是``/``否`` while several requests are open: name each with its code."""
        word_zh, word_en = ("否", "N") if declining else ("是", "Y")
        zh_items = "；".join(f"{p.provider}的{p.service}回复“{word_zh}{p.code}”" for p in pending)
        en_items = "; ".join(f'{p.service} from {p.provider}: "{word_en}{p.code}"' for p in pending)
        return self._sign(
            f"您有多笔待确认的订购，请回复“{word_zh}”加确认码指明：{zh_items}。"
            "本次回复未办理任何业务。",
            f"You have several pending requests; reply {word_en} with the code: {en_items}. "
            "Nothing was changed.",
        )

    def charge_reminder(
        self,
        *,
        ordered_at: datetime,
        provider: str,
        service: str,
        service_code: str,
        price_fen: int,
        charge_at: datetime,
    ) -> str:
        """扣费提醒: sent before the first charge, with the exact replies to cancel or complain."""
        price = self._monthly(price_fen)
        return self._sign(
            f"温馨提示：您于{self._when(ordered_at)}订购了{provider}的{service}"
            f"（业务代码{service_code}），资费{price}，将于{self._when(charge_at)}后开始扣费。"
            f"如需退订请回复“TD{service_code}”，退订后不收费；"
            f"如有疑问请回复“TS{service_code}”投诉。本短信免费。",
            f"Reminder: on {self._when(ordered_at)} you ordered {service} from {provider} "
            f"(service code {service_code}) at {price}; charging starts after "
            f'{self._when(charge_at)}. To cancel free of charge reply "TD{service_code}"; '
            f'to complain reply "TS{service_code}". This SMS is free.',
        )

    def plan_ordered(
        self, *, plan: str, fee_fen: int, effective_date: date, changed: bool = False
    ) -> str:
        """A plan order, or a change to another plan (``changed``)."""
        fee, day = self._price(fee_fen), self._day(effective_date)
        return self._sign(
            f"您已申请{'变更为' if changed else ''}{plan}套餐，月费{fee}，将于{day}生效。",
            f"You have {'changed to' if changed else 'ordered'} the {plan} plan, "
            f"{fee} a month, effective {day}.",
        )

    def plan_effective(
        self, *, plan: str, fee_fen: int, effective_date: date, included: Sequence[str]
    ) -> str:
        fee, day = self._price(fee_fen), self._day(effective_date)
        services = self._names(included) or ("无" if self._zh else "none")
        return self._sign(
            f"您的{plan}套餐自{day}起生效，月费{fee}，包含：{services}。",
            f"Your {plan} plan is effective from {day}, {fee} a month, including: {services}.",
        )

    def listing(self, items: Sequence[ListingItem]) -> str:
        """The 0000 reply: a header line, one line per item, then the instructions."""
        if not items:
            return self._sign(
                "您目前没有订购任何包月增值业务。",
                "You have no monthly value-added services.",
            )
        mark = "[集团]" if self._zh else " [group]"
        lines = [
            f"{i.number}.{i.service}{mark if i.group else ''} {self._monthly(i.price_fen)} "
            f"{i.provider}"
            for i in items
        ]
        header = self._sign(
            "您目前订购的包月增值业务如下：",
            "Your monthly value-added services:",
        )
        instructions = (
            "回复序号退订对应业务，多个序号用逗号分隔（如1,3）；回复QX退订以上全部。本短信免费。"
            if self._zh
            else "Reply with item numbers to cancel, several separated by commas (e.g. 1,3); "
            "reply QX to cancel all of them. This SMS is free."
        )
        return "\n".join([header, *lines, instructions])

    def cancel_all_confirmation(
        self, *, services: Sequence[str], code: str, valid_minutes: int = 10
    ) -> str:
        """QX asks before it acts: names everything that would be cancelled."""
        names = self._names(services)
        return self._sign(
            f"您将退订以下全部业务：{names}。确认请在{valid_minutes}分钟内回复“是{code}”，"
            "不回复或回复其他内容则不退订。本短信免费。",
            f'You are about to cancel all of: {names}. To confirm reply "Y{code}" within '
            f"{valid_minutes} minutes; otherwise nothing is cancelled. This SMS is free.",
        )

    def cancelled(self, cancellations: Sequence[Cancellation]) -> str:
        """Names every cancelled service; says which were never charged."""
        if not cancellations:
            raise ValueError("a cancellation notice needs at least one service")
        names = self._names([c.service for c in cancellations])
        free = [c.service for c in cancellations if not c.charged]
        if not free:
            zh_tail, en_tail = "退订后不再收取费用。", "No further charges will be made."
        elif len(free) == len(cancellations):
            zh_tail = "本业务未产生任何费用。" if len(free) == 1 else "以上业务均未产生任何费用。"
            en_tail = "No fee was incurred."
        else:
            zh_tail = f"退订后不再收取费用，其中{self._names(free)}未产生任何费用。"
            en_tail = (
                f"No further charges will be made; no fee was incurred for {self._names(free)}."
            )
        return self._sign(
            f"您已成功退订：{names}。{zh_tail}",
            f"You have cancelled: {names}. {en_tail}",
        )

    def complaint_registered(self, *, service: str, ticket: str) -> str:
        return self._sign(
            f"您对{service}的投诉已受理，编号{ticket}。处理期间该业务暂停扣费。",
            f"Your complaint about {service} is registered, ticket {ticket}. "
            "Charges for it are on hold while we handle it.",
        )

    def complaint_resolved(self, *, ticket: str, refunded_fen: int | None) -> str:
        """The outcome of a complaint; ``refunded_fen`` is ``None`` when none was asked for."""
        if refunded_fen:
            return self._sign(
                f"您的投诉（编号{ticket}）已处理完毕，已为您退款{self._price(refunded_fen)}。",
                f"Your complaint, ticket {ticket}, is resolved: "
                f"{self._price(refunded_fen)} has been refunded.",
            )
        return self._sign(
            f"您的投诉（编号{ticket}）已处理完毕。",
            f"Your complaint, ticket {ticket}, is resolved.",
        )

    def help(self) -> str:
        number = self.branding.service_number
        return self._sign(
            f"发送至{number}：0000查询包月业务；回复序号退订（如1,3）；QX退订全部；"
            "TD+业务代码退订该业务；是+确认码确认订购，否+确认码拒绝；"
            "TS+业务代码+内容投诉；BZ查看帮助。本短信免费。",
            f"Send to {number}: 0000 to list your monthly services; item numbers to cancel "
            "(e.g. 1,3); QX to cancel all; TD+service code to cancel it; Y+code to confirm "
            "an order, N+code to decline; TS+service code+text to complain; HELP for this "
            "list. This SMS is free.",
        )

    def not_understood(self, text: str) -> str:
        """Quotes what was not understood and points to 0000 and BZ; nothing changed."""
        quoted = _quote(text)
        return self._sign(
            f"未能识别您发送的“{quoted}”，未办理任何业务。"
            "查询已订购业务请回复0000，查看指令请回复BZ。",
            f'We did not understand "{quoted}"; nothing was changed. '
            "Reply 0000 to list your services or HELP for the commands.",
        )

    def ambiguous(self, text: str) -> str:
        """A reply that could mean more than one thing: ask to be precise; nothing changed."""
        quoted = _quote(text)
        return self._sign(
            f"您发送的“{quoted}”有多种含义，未办理任何业务。请回复列表序号（如1）退订查询结果中的"
            "业务，或回复TD加完整业务代码；查询请回复0000。",
            f'"{quoted}" could mean more than one thing; nothing was changed. Reply an item '
            "number (e.g. 1) to cancel from your list, or TD and the full service code; "
            "reply 0000 to list.",
        )

    def login_code(self, *, code: str, valid_minutes: int) -> str:
        """The one-time code of the customer's own page; says not to pass it on, since
        whoever holds it can cancel the customer's services."""
        return self._sign(
            f"您的登录验证码为{code}，{valid_minutes}分钟内有效。请勿告诉他人。本短信免费。",
            f"Your login code is {code}, valid for {valid_minutes} minutes. "
            "Do not share it. This SMS is free.",
        )

    def listing_expired(self) -> str:
        """Item numbers with no valid listing behind them (expired, or replaced by a newer one)."""
        return self._sign(
            "您回复的序号对应的查询结果已失效，未办理任何业务。请回复0000重新查询。",
            "Your list has expired, so the item numbers no longer apply; nothing was changed. "
            "Reply 0000 for a new list.",
        )

    def items_out_of_range(self, *, items: Sequence[int], size: int) -> str:
        numbers = ",".join(str(n) for n in items)
        return self._sign(
            f"您回复的序号{numbers}不在查询结果中（共{size}项），未办理任何业务。"
            "请回复0000重新查询。",
            f"Item {numbers} is not on your list ({size} items); nothing was changed. "
            "Reply 0000 for a new list.",
        )

    def already_cancelled(self, services: Sequence[str]) -> str:
        names = self._names(services)
        return self._sign(
            f"{names}已退订，无需重复办理，不会再收取费用。",
            f"Already cancelled: {names}. No further charges will be made.",
        )

    def unknown_service_code(self, service_code: str) -> str:
        return self._sign(
            f"您没有订购业务代码为{service_code}的业务，未办理任何业务。查询已订购业务请回复0000。",
            f"You have no subscription with service code {service_code}; nothing was changed. "
            "Reply 0000 to list your services.",
        )

    def service_code_needed(self, action: Literal["cancel", "complain"]) -> str:
        """Bare ``TD``/``TS`` with no single reminded service to apply it to."""
        zh, en = ("TD", "cancel") if action == "cancel" else ("TS", "complain")
        return self._sign(
            f"请回复{zh}加业务代码（如{zh}12345678）指明业务，未办理任何业务。"
            "查询已订购业务请回复0000。",
            f"Please reply {zh} with the service code (e.g. {zh}12345678) to {en}; nothing "
            "was changed. Reply 0000 to list your services.",
        )
