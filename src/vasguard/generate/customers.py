"""Subscribers, their plans and subscriptions, and the messages that prove each consent.

Rows are made one subscriber at a time from a single random stream, so the data depends on
the seed only — not on the chunk size the caller writes in. Ids are assigned here, counting
from 1, so a subscription can name its confirmation message before either is stored.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from vasguard.domain.money import yuan, yuan_en
from vasguard.domain.msisdn import Province
from vasguard.generate.catalogue import SERVICE_NUMBER, Catalogue
from vasguard.generate.numbering import NumberPlan

Row = dict[str, Any]

MINUTE = 60
HOUR = 3_600
DAY = 86_400
YEAR = 365 * DAY

# Subscribers: most active, a few suspended or closed; about 2% prefer English.
SUSPENDED_SHARE = 0.03
CLOSED_SHARE = 0.01
ENGLISH_SHARE = 0.02
OLDEST_ACCOUNT = 12 * YEAR
# Subscriptions are ordered within this many years before ``at``.
ORDER_WINDOW = 6 * YEAR

# How many subscriptions a subscriber holds: none, a geometric bulk, a heavy tail.
NO_SUBSCRIPTION_SHARE = 0.35
HEAVY_SHARE = 0.015
GEOMETRIC_P = 0.4
HEAVY_RANGE = (8, 40)
MAX_SUBSCRIPTIONS = 40

# Where a subscription's service comes from.
PARTNER_PICK_SHARE = 0.75
OWN_PICK_SHARE = 0.17

# Subscription states (cumulative thresholds); "recent" orders are still before their reminder.
PENDING_SHARE = 0.015
EXPIRED_SHARE = 0.035
CANCELLED_SHARE = 0.17
RECENT_SHARE = 0.03
RECENT_WINDOW = 3 * DAY
# A cancellation soon after the reminder: the product working as intended.
EARLY_CANCEL_SHARE = 0.35

# Plans: some subscribers changed plan once; a few have a change taking effect next month.
PLAN_HISTORY_SHARE = 0.25
PLAN_FUTURE_SHARE = 0.01

# Reminders go out only after this long, and only within the sending window (local time).
REMINDER_AFTER = 2 * DAY
REMINDER_LEAD = DAY
WINDOW_OPENS = 8 * HOUR
WINDOW_CLOSES = 22 * HOUR

CANCEL_CAUSES = ("mo_cancel", "query_cancel", "care_cancel", "partner_cancel")
CANCEL_CAUSE_WEIGHTS = (45, 25, 15, 15)
PARTNER_CHANNELS = ("partner", "sms", "web", "care")
PARTNER_CHANNEL_WEIGHTS = (70, 15, 10, 5)
OWN_CHANNELS = ("sms", "web", "care")
OWN_CHANNEL_WEIGHTS = (50, 30, 20)
PLAN_CHANGE_CHANNELS = ("sms", "web", "care", "store")

UCS2_SINGLE = 70
UCS2_PART = 67


@dataclass(slots=True)
class Chunk:
    """The rows of one batch of subscribers, in the order they must be inserted."""

    subscribers: list[Row] = field(default_factory=list)
    subscriber_plans: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    subscriptions: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class _Person:
    """What the subscription and message rows of one subscriber need to know."""

    id: int
    msisdn: str
    province: str
    language: str
    offset: int
    created: int
    end: int
    closed: bool


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _parts(text: str) -> int:
    return 1 if len(text) <= UCS2_SINGLE else math.ceil(len(text) / UCS2_PART)


class CustomerFactory:
    """Builds subscribers in id order; each call continues the same stream."""

    def __init__(
        self,
        catalogue: Catalogue,
        numbers: NumberPlan,
        provinces: list[Province],
        rng: Random,
        at: datetime,
    ) -> None:
        self._catalogue = catalogue
        self._numbers = numbers
        self._rng = rng
        self._at = int(at.timestamp())
        self._offsets = {
            p.code: int((ZoneInfo(p.timezone).utcoffset(at) or timedelta()).total_seconds())
            for p in provinces
        }
        self._next_subscriber = 1
        self._next_plan_row = itertools.count(1)
        self._next_subscription = itertools.count(1)
        self._next_message = itertools.count(1)

    def chunk(self, count: int) -> Chunk:
        """The next ``count`` subscribers with everything that hangs off them."""
        out = Chunk()
        for _ in range(count):
            self._subscriber(out)
        return out

    # --- one subscriber --------------------------------------------------------------------

    def _subscriber(self, out: Chunk) -> None:
        rng, at = self._rng, self._at
        subscriber_id = self._next_subscriber
        self._next_subscriber += 1
        msisdn, province = self._numbers.number(subscriber_id - 1)
        language = "en" if rng.random() < ENGLISH_SHARE else "zh"
        draw = rng.random()
        status = (
            "closed"
            if draw < CLOSED_SHARE
            else "suspended"
            if draw < CLOSED_SHARE + SUSPENDED_SHARE
            else "active"
        )
        created = at - 3 * DAY - int(rng.random() ** 1.5 * OLDEST_ACCOUNT)
        end = at
        if status == "closed":
            end = created + 2 * DAY + int(rng.random() * (at - created - 2 * DAY))
        person = _Person(
            subscriber_id, msisdn, province, language, self._offsets[province], created, end,
            status == "closed",
        )  # fmt: skip
        out.subscribers.append(
            {
                "id": subscriber_id,
                "msisdn": msisdn,
                "province": province,
                "language": language,
                "status": status,
                "created_at": _dt(created),
            }
        )
        excluded = self._plans(person, out)
        self._subscriptions(person, excluded, out)

    def _plans(self, person: _Person, out: Chunk) -> set[int]:
        """Write the plan history; return the services those plans include."""
        rng, catalogue = self._rng, self._catalogue
        first = catalogue.pick_plan(rng)
        rows = [(first, person.created, person.created, "store")]
        draw = rng.random()
        if draw < PLAN_HISTORY_SHARE and person.end - person.created > 62 * DAY:
            turn = (
                person.created
                + 31 * DAY
                + int(rng.random() * (person.end - person.created - 62 * DAY))
            )
            effective = self._month_start_after(turn, person.offset)
            ordered = max(person.created, effective - rng.randint(DAY, 25 * DAY))
            rows.append(
                (self._other_plan(first), effective, ordered, rng.choice(PLAN_CHANGE_CHANNELS))
            )
        elif draw < PLAN_HISTORY_SHARE + PLAN_FUTURE_SHARE and not person.closed:
            effective = self._month_start_after(self._at, person.offset)
            ordered = self._at - rng.randint(HOUR, min(25 * DAY, self._at - person.created))
            rows.append(
                (self._other_plan(first), effective, ordered, rng.choice(PLAN_CHANGE_CHANNELS))
            )
        excluded: set[int] = set()
        for n, (plan_id, effective_from, ordered, channel) in enumerate(rows):
            effective_to = rows[n + 1][1] if n + 1 < len(rows) else None
            if effective_to is None and person.closed:
                effective_to = person.end
            excluded.update(catalogue.plan_included[plan_id])
            row_id = next(self._next_plan_row)
            # The plan notices: an account's first plan takes effect at once, so its order
            # notice says it all; a change is announced when ordered and when it takes effect.
            order_notice = self._plan_notice(out, person, plan_id, ordered, effective_from, n > 0)
            effective_notice = order_notice if n == 0 else None
            if n > 0 and effective_from < self._at:
                effective_notice = self._plan_effective_notice(out, person, plan_id, effective_from)
            out.subscriber_plans.append(
                {
                    "id": row_id,
                    "subscriber_id": person.id,
                    "province": person.province,
                    "plan_id": plan_id,
                    "effective_from": _dt(effective_from),
                    "effective_to": None if effective_to is None else _dt(effective_to),
                    "ordered_at": _dt(ordered),
                    "channel": channel,
                    "order_notice_mt_id": order_notice,
                    "effective_notice_mt_id": effective_notice,
                }
            )
        return excluded

    def _plan_notice(
        self, out: Chunk, person: _Person, plan_id: int, ordered: int, effective: int, changed: bool
    ) -> int:
        """The notice of a plan order or change (inside the sending window)."""
        catalogue = self._catalogue
        name = catalogue.plan_names[plan_id]
        on = self._local(effective, person.offset, with_time=False)
        if person.language == "zh":
            text = (
                f"【10086】您已申请{name},月费{yuan(catalogue.plan_fees[plan_id])},将于{on}生效。"
            )
        else:
            fee = yuan_en(catalogue.plan_fees[plan_id])
            text = f"[10086] You have ordered the {name} plan, {fee}/month, effective from {on}."
        kind = "plan_changed" if changed else "plan_ordered"
        return self._notice(out, person, kind, text, ordered)

    def _plan_effective_notice(
        self, out: Chunk, person: _Person, plan_id: int, effective: int
    ) -> int:
        """The notice that a changed plan has taken effect, with what it includes."""
        catalogue = self._catalogue
        name = catalogue.plan_names[plan_id]
        on = self._local(effective, person.offset, with_time=False)
        fee = catalogue.plan_fees[plan_id]
        included = [catalogue.service_names[s] for s in catalogue.plan_included[plan_id]]
        if person.language == "zh":
            text = (
                f"【10086】您的{name}自{on}起生效,月费{yuan(fee)},"
                f"包含:{'、'.join(included) or '无'}。"
            )
        else:
            text = (
                f"[10086] Your {name} plan is effective from {on}, {yuan_en(fee)}/month, "
                f"including: {', '.join(included) or 'nothing'}."
            )
        return self._notice(out, person, "plan_effective", text, effective)

    def _notice(self, out: Chunk, person: _Person, kind: str, text: str, since: int) -> int:
        """A notice queued at ``since`` for the sending window; sent if that was before ``at``."""
        queued = self._in_window(since + self._rng.randint(1, 5), person.offset)
        sent = queued + self._rng.randint(1, 30)
        return self._message(
            out, person, None, "mt", kind, text, since, queued=queued,
            sent=sent if sent < self._at else None,
        )  # fmt: skip

    def _other_plan(self, plan_id: int) -> int:
        other = self._catalogue.pick_plan(self._rng)
        while other == plan_id:
            other = self._catalogue.pick_plan(self._rng)
        return other

    @staticmethod
    def _month_start_after(ts: int, offset: int) -> int:
        """The first instant of the calendar month (local time) after the one holding ``ts``."""
        local = _dt(ts + offset)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) - offset

    # --- subscriptions -------------------------------------------------------------------

    def _subscription_count(self) -> int:
        rng = self._rng
        draw = rng.random()
        if draw < NO_SUBSCRIPTION_SHARE:
            return 0
        if draw < 1 - HEAVY_SHARE:
            geometric = 1 + int(math.log(1.0 - rng.random()) / math.log(1 - GEOMETRIC_P))
            return min(geometric, MAX_SUBSCRIPTIONS)
        return rng.randint(*HEAVY_RANGE)

    def _pick_services(self, count: int, excluded: set[int]) -> list[int]:
        """Distinct services, none included in the subscriber's plans."""
        rng, catalogue = self._rng, self._catalogue
        chosen: list[int] = []
        taken = set(excluded)
        for _ in range(count):
            for _attempt in range(20):
                draw = rng.random()
                if draw < PARTNER_PICK_SHARE:
                    service_id = catalogue.partner_pool.pick(rng)
                elif draw < PARTNER_PICK_SHARE + OWN_PICK_SHARE:
                    service_id = catalogue.own_pool.pick(rng)
                else:
                    service_id = catalogue.group_pool.pick(rng)
                if service_id not in taken:
                    taken.add(service_id)
                    chosen.append(service_id)
                    break
        return chosen

    def _subscriptions(self, person: _Person, excluded: set[int], out: Chunk) -> None:
        rng = self._rng
        services = self._pick_services(self._subscription_count(), excluded)
        # Codes are distinct per subscriber, hence among any of its open requests.
        codes = rng.sample(range(10_000), len(services))
        for service_id, code in zip(services, codes, strict=True):
            self._subscription(person, service_id, f"{code:04d}", out)

    def _subscription(self, person: _Person, service_id: int, code: str, out: Chunk) -> None:
        rng, catalogue, at = self._rng, self._catalogue, self._at
        subscription_id = next(self._next_subscription)
        provider_id = catalogue.service_provider[service_id]
        if provider_id == 1:
            channel = rng.choices(OWN_CHANNELS, OWN_CHANNEL_WEIGHTS)[0]
        else:
            channel = rng.choices(PARTNER_CHANNELS, PARTNER_CHANNEL_WEIGHTS)[0]
        order_ref = None
        if channel == "partner":
            order_ref = f"{catalogue.provider_codes[provider_id]}-{subscription_id}"
        elif channel == "web":
            order_ref = f"web-{subscription_id}"
        row: Row = {
            "id": subscription_id,
            "subscriber_id": person.id,
            "province": person.province,
            "service_id": service_id,
            "state": "active",
            "channel": channel,
            "order_ref": order_ref,
            "ordered_at": None,
            "confirmation_code": code,
            "confirm_by": None,
            "request_mt_id": None,
            "confirmed_at": None,
            "confirmation_mo_id": None,
            "reminder_mt_id": None,
            "reminder_queued_at": None,
            "ended_at": None,
            "end_cause": None,
            "end_message_id": None,
        }
        window_start = max(person.created, min(at - ORDER_WINDOW, person.end - 2 * DAY))
        draw = rng.random()
        if draw < PENDING_SHARE and not person.closed:
            ordered = at - rng.randint(MINUTE, 23 * HOUR)
            row["state"] = "pending_confirmation"
            row["request_mt_id"] = self._request(person, row, service_id, ordered, out)
        elif draw < PENDING_SHARE + EXPIRED_SHARE:
            ordered = rng.randint(window_start, person.end - DAY - MINUTE)
            row["state"] = "expired"
            row["ended_at"] = _dt(ordered + DAY)
            row["end_cause"] = "confirmation_timeout"
        else:
            if rng.random() < RECENT_SHARE and not person.closed:
                ordered = rng.randint(max(window_start, at - RECENT_WINDOW), at - 4 * HOUR)
            else:
                ordered = rng.randint(window_start, person.end - 4 * HOUR)
            cancelled = person.closed or draw > 1 - CANCELLED_SHARE
            self._confirmed(person, row, service_id, ordered, cancelled, out)
        row["ordered_at"] = _dt(ordered)
        row["confirm_by"] = _dt(ordered + DAY)
        out.subscriptions.append(row)

    def _confirmed(
        self, person: _Person, row: Row, service_id: int, ordered: int, cancelled: bool, out: Chunk
    ) -> None:
        """An order the subscriber confirmed: its MO, its reminder if due, its cancellation."""
        rng = self._rng
        confirmed = ordered + 20 + min(int(rng.expovariate(1 / 600)), 3 * HOUR)
        code = row["confirmation_code"]
        word = "是" if person.language == "zh" else "Y"
        mo_id = self._message(
            out, person, row["id"], "mo", "confirmation", f"{word}{code}", confirmed
        )
        row["confirmed_at"] = _dt(confirmed)
        row["confirmation_mo_id"] = mo_id
        ended: int | None = None
        if cancelled:
            if person.closed:
                ended = person.end
            elif rng.random() < EARLY_CANCEL_SHARE:
                ended = confirmed + rng.randint(10 * MINUTE, 3 * DAY)
            else:
                span = max(0, person.end - confirmed - 2 * MINUTE)
                ended = confirmed + MINUTE + int(rng.random() * span)
            ended = min(ended, self._at - MINUTE)
        reminder_due = self._catalogue.reminder_applies(service_id) and (
            confirmed < self._at - REMINDER_AFTER
        )
        if reminder_due:
            queued = self._in_window(confirmed + rng.randint(MINUTE, 20 * MINUTE), person.offset)
            if ended is None or queued < ended:
                row["reminder_queued_at"] = _dt(queued)
                row["reminder_mt_id"] = self._reminder(
                    person, row, service_id, ordered, queued, out
                )
        if ended is None:
            return
        row["state"] = "cancelled"
        row["ended_at"] = _dt(ended)
        if person.closed:
            row["end_cause"] = "account_closed"
            return
        cause = rng.choices(CANCEL_CAUSES, CANCEL_CAUSE_WEIGHTS)[0]
        row["end_cause"] = cause
        if cause == "mo_cancel":
            text = f"TD{self._catalogue.service_codes[service_id]}"
        elif cause == "query_cancel":
            text = str(rng.randint(1, 3))
        else:
            return
        row["end_message_id"] = self._message(out, person, row["id"], "mo", "cancel", text, ended)

    def _in_window(self, ts: int, offset: int) -> int:
        """Hold a notice until the sending window opens (subscriber local time)."""
        second_of_day = (ts + offset) % DAY
        if second_of_day < WINDOW_OPENS:
            return ts + WINDOW_OPENS - second_of_day + self._rng.randint(0, 30 * MINUTE)
        if second_of_day >= WINDOW_CLOSES:
            return ts + DAY - second_of_day + WINDOW_OPENS + self._rng.randint(0, 30 * MINUTE)
        return ts

    # --- messages --------------------------------------------------------------------------

    def _price_label(self, service_id: int, language: str) -> str:
        price = self._catalogue.service_price[service_id]
        billing = self._catalogue.service_billing[service_id]
        if language == "en":
            unit = {"monthly": "/month", "per_use": "/use"}.get(billing, "")
            return f"{yuan_en(price)}{unit}" if billing != "free" else "free"
        unit = {"monthly": "/月", "per_use": "/次"}.get(billing, "")
        return f"{yuan(price)}{unit}" if billing != "free" else "免费"

    def _local(self, ts: int, offset: int, with_time: bool) -> str:
        local = _dt(ts + offset)
        if with_time:
            return f"{local.year}年{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"
        return f"{local.year}年{local.month}月{local.day}日"

    def _request(self, person: _Person, row: Row, service_id: int, ordered: int, out: Chunk) -> int:
        """The confirmation request (二次确认) of a still-open order."""
        catalogue = self._catalogue
        provider = catalogue.provider_names[catalogue.service_provider[service_id]]
        service = catalogue.service_names[service_id]
        price = self._price_label(service_id, person.language)
        code = row["confirmation_code"]
        if person.language == "zh":
            text = (
                f"【10086】您正在订购{provider}的{service},资费{price},由{provider}收取。"
                f'回复"是{code}"确认订购,不回复或回复其他内容则不订购,24小时内有效。本短信免费。'
            )
        else:
            text = (
                f"[10086] You are ordering {service} from {provider}, {price}, charged by "
                f"{provider}. Reply Y{code} within 24 hours to confirm; any other reply or "
                "none means no order. This SMS is free."
            )
        sent = ordered + self._rng.randint(1, 5)
        return self._message(
            out, person, row["id"], "mt", "confirmation_request", text, ordered, sent=sent
        )

    def _reminder(
        self, person: _Person, row: Row, service_id: int, ordered: int, queued: int, out: Chunk
    ) -> int:
        """The charge reminder (扣费提醒), sent and delivered."""
        catalogue = self._catalogue
        provider = catalogue.provider_names[catalogue.service_provider[service_id]]
        service = catalogue.service_names[service_id]
        service_code = catalogue.service_codes[service_id]
        price = self._price_label(service_id, person.language)
        sent = queued + self._rng.randint(1, 30)
        ordered_on = self._local(ordered, person.offset, with_time=False)
        charge_at = self._local(sent + REMINDER_LEAD, person.offset, with_time=True)
        if person.language == "zh":
            text = (
                f"【10086】温馨提示:您于{ordered_on}订购了{provider}的{service}"
                f"(业务代码{service_code}),资费{price},将于{charge_at}后开始扣费。"
                f'如需退订请回复"TD{service_code}",退订后不收费;'
                f'如有疑问请回复"TS{service_code}"投诉。本短信免费。'
            )
        else:
            text = (
                f"[10086] Reminder: on {ordered_on} you ordered {service} from {provider} "
                f"(service code {service_code}), {price}, charged from {charge_at}. "
                f"Reply TD{service_code} to cancel at no charge; reply TS{service_code} to "
                "complain. This SMS is free."
            )
        return self._message(out, person, row["id"], "mt", "reminder", text, queued, sent=sent)

    def _message(
        self,
        out: Chunk,
        person: _Person,
        subscription_id: int | None,
        direction: str,
        kind: str,
        text: str,
        created: int,
        queued: int | None = None,
        sent: int | None = None,
    ) -> int:
        """Store one message. An MT waits from ``queued`` (default ``created``); with ``sent``
        it went out then and its receipt came back, unless that would be after ``at``."""
        message_id = next(self._next_message)
        status = "received"
        receipt = None
        if direction == "mt":
            status = "queued" if sent is None else "delivered"
            if sent is not None:
                receipt = sent + self._rng.randint(2, 90)
                if receipt >= self._at:
                    status, receipt = "sent", None
        out.messages.append(
            {
                "id": message_id,
                "subscriber_id": person.id,
                "province": person.province,
                "msisdn": person.msisdn,
                "direction": direction,
                "service_number": SERVICE_NUMBER,
                "kind": kind,
                "text": text,
                "encoding": "ucs2",
                "parts": _parts(text),
                "status": status,
                "smsc_message_id": None
                if sent is None and direction == "mt"
                else f"gen-{message_id}",
                "in_reply_to": None,
                "subscription_id": subscription_id,
                "created_at": _dt(created),
                "send_after": None
                if direction == "mo"
                else _dt(created if queued is None else queued),
                "sent_at": None if sent is None else _dt(sent),
                "receipt_status": None if receipt is None else "delivered",
                "receipt_at": None if receipt is None else _dt(receipt),
            }
        )
        return message_id
