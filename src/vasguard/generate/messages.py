"""The messages the running system writes for each generated event, rendered as it renders them.

Texts come from the domain's templates in the subscriber's language (``templates_for``),
encoding and parts from the domain's segmentation (``split``, lines kept whole in replies as
``HandledMo.reply`` keeps them); MT rows have the shape ``store.messages.mt_values`` gives
a ``NewMt``, MO rows the shape MO intake stores. Notices that are not replies are held for the
sending window (``domain.sending.send_after``). What the outbox and the SMSC did next
(submitted, delivery receipt) is then added as it would have happened before ``at``.

Texts that repeat (a reply naming one service, a plan notice for one day) are rendered once
per language, and segmentation is computed once per text, or once per *shape*: texts of one
template, language and service (or plan) whose one varying part (a confirmation code, a
date) has the same length and is made of characters that cost one each in GSM-7 and UCS-2
(digits, 年月日, '-') and are no newlines keep every other character in its place, so
``split`` cuts them alike. Texts unique to one subscriber (reminders, listings) are split
as they come. Caches are bounded, so memory does not grow with the subscribers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.messages import MessageKind
from vasguard.domain.plans import Plan
from vasguard.domain.segmentation import Encoding, choose_encoding, split
from vasguard.domain.sending import send_after
from vasguard.domain.templates import Cancellation, ListingItem, Templates
from vasguard.generate.catalogue import Catalogue
from vasguard.services.deployment import Deployment, templates_for

Row = dict[str, Any]

# Every message row carries every column of ``messages``, in table order (COPY takes the
# first row's keys for all rows); the tests hold the rows to the table.

# Seconds the outbox takes to submit a due MT (replies and requests; notices are batched),
# and the SMSC to return its delivery receipt.
SUBMIT_DELAY = (1, 5)
NOTICE_SUBMIT_DELAY = (1, 30)
RECEIPT_DELAY = (2, 90)
LANGUAGES = ("zh", "en")
# Distinct texts kept per cache: enough for the popular services, bounded for a long run.
CACHE_SIZE = 20_000


def dt(ts: int) -> datetime:
    """A generator timestamp (whole UTC seconds) as the aware datetime the store keeps."""
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class Person:
    """A generated subscriber as the services see one, with the span the history fits in."""

    subscriber: Subscriber
    zone: str
    created: int
    end: int
    templates: Templates

    @property
    def closed(self) -> bool:
        return self.subscriber.status == "closed"


@dataclass(frozen=True, slots=True)
class Listed:
    """One item of a generated 0000 listing: its number and the subscription it names."""

    number: int
    subscription_id: int
    service_id: int


class Messages:
    """Message and listing rows of the generated history; ids count from 1 in write order."""

    def __init__(self, catalogue: Catalogue, deployment: Deployment, rng: Random, at: int) -> None:
        self._catalogue = catalogue
        self._deployment = deployment
        self._rng = rng
        self._at = at
        self._ids = itertools.count(1)
        self._plan_zone = ZoneInfo(deployment.timezone)
        self._segments: dict[tuple[object, ...], tuple[Encoding, int]] = {}
        self._templates = {
            language: templates_for(deployment, Subscriber(0, "", "", language, "active"))
            for language in LANGUAGES
        }
        self.rows: list[Row] = []
        self.listings: list[Row] = []
        self.listing_items: list[Row] = []
        self._confirmed: Callable[[str, int], str] = lru_cache(CACHE_SIZE)(self._confirmed_text)
        self._declined: Callable[[str, int], str] = lru_cache(CACHE_SIZE)(self._declined_text)
        self._cancelled_one: Callable[[str, int, bool], str] = lru_cache(CACHE_SIZE)(
            self._cancelled_one_text
        )
        self._plan_ordered: Callable[[str, int, date, bool], str] = lru_cache(CACHE_SIZE)(
            self._plan_ordered_text
        )
        self._plan_effective: Callable[[str, int, date], str] = lru_cache(CACHE_SIZE)(
            self._plan_effective_text
        )

    def templates(self, language: str) -> Templates:
        """The templates the services pick for a subscriber of this language."""
        return self._templates[language]

    # --- the order dialogue ------------------------------------------------------------

    def request(
        self, person: Person, subscription_id: int, service_id: int, code: str, ordered: int
    ) -> int:
        """The confirmation request ``place_order`` queues (二次确认), due at once."""
        catalogue = self._catalogue
        text = person.templates.order_confirmation_request(
            provider=catalogue.provider_names[catalogue.service_provider[service_id]],
            service=catalogue.service_names[service_id],
            price_fen=catalogue.service_price[service_id],
            code=code,
            valid_hours=int(self._deployment.confirmation_window.total_seconds() // 3600),
        )
        return self._mt(
            person,
            SUBMIT_DELAY,
            kind=MessageKind.CONFIRMATION_REQUEST,
            text=text,
            at=ordered,
            shape=("confirmation_request", person.subscriber.language, service_id),
            subscription_id=subscription_id,
        )

    def confirm(
        self, person: Person, subscription_id: int, service_id: int, code: str, at: int
    ) -> int:
        """``是{code}`` and the "order confirmed" reply; the MO's id."""
        word = "是" if person.subscriber.language == "zh" else "Y"
        mo_id = self.mo(person, f"{word}{code}", at)
        text = self._confirmed(person.subscriber.language, service_id)
        self.reply(person, mo_id, text, at, subscription_id=subscription_id)
        return mo_id

    def decline(
        self, person: Person, subscription_id: int, service_id: int, code: str, at: int
    ) -> int:
        """``否{code}`` and the "order declined" reply; the MO's id."""
        word = "否" if person.subscriber.language == "zh" else "N"
        mo_id = self.mo(person, f"{word}{code}", at)
        text = self._declined(person.subscriber.language, service_id)
        self.reply(person, mo_id, text, at, subscription_id=subscription_id)
        return mo_id

    # --- cancelling ----------------------------------------------------------------------

    def cancel_by_code(self, person: Person, service_id: int, charged: bool, at: int) -> int:
        """``TD{service code}`` and the cancellation reply; the MO's id."""
        mo_id = self.mo(person, f"TD{self._catalogue.service_codes[service_id]}", at)
        text = self._cancelled_one(person.subscriber.language, service_id, charged)
        self.reply(person, mo_id, text, at)
        return mo_id

    def cancel_reminded(self, person: Person, service_id: int, at: int) -> int:
        """A bare ``TD`` answering the one open reminder (never charged yet), and the reply."""
        mo_id = self.mo(person, "TD", at)
        text = self._cancelled_one(person.subscriber.language, service_id, False)
        self.reply(person, mo_id, text, at)
        return mo_id

    def listing(self, person: Person, items: Sequence[Listed], at: int) -> int:
        """``0000``, its listing row and the reply from the listing port; the MO's id."""
        mo_id = self.mo(person, "0000", at)
        subscriber = person.subscriber
        self.listings.append(
            {
                "id": mo_id,
                "subscriber_id": subscriber.id,
                "province": subscriber.province,
                "mo_id": mo_id,
                "created_at": dt(at),
                "expires_at": dt(at) + self._deployment.listing_validity,
                "cancel_all_code": None,
                "cancel_all_until": None,
            }
        )
        self.listing_items.extend(
            {
                "listing_id": mo_id,
                "number": item.number,
                "subscription_id": item.subscription_id,
                "subscriber_id": subscriber.id,
                "province": subscriber.province,
            }
            for item in items
        )
        catalogue = self._catalogue
        text = person.templates.listing(
            [
                ListingItem(
                    item.number,
                    catalogue.service_names[item.service_id],
                    catalogue.service_price[item.service_id],
                    catalogue.provider_names[catalogue.service_provider[item.service_id]],
                    catalogue.service_group[item.service_id],
                )
                for item in items
            ]
        )
        self.reply(
            person,
            mo_id,
            text,
            at,
            kind=MessageKind.LISTING,
            from_number=self._deployment.listing_port,
            unique=True,
        )
        return mo_id

    def cancel_item(
        self, person: Person, number: int, service_id: int, charged: bool, at: int
    ) -> int:
        """An item number sent back to the listing port, and the cancellation reply."""
        mo_id = self.mo(person, str(number), at, to=self._deployment.listing_port)
        text = self._cancelled_one(person.subscriber.language, service_id, charged)
        self.reply(person, mo_id, text, at)
        return mo_id

    def cancel_all(
        self,
        person: Person,
        items: Sequence[tuple[int, bool]],
        code: str,
        asked: int,
        confirmed: int,
    ) -> int:
        """``QX`` to the listing port, the question naming every item, then ``是{code}`` and
        the reply naming what was cancelled. ``items``: (service, charged) in listing order;
        the id of the confirming MO, which ends the subscriptions."""
        catalogue, t = self._catalogue, person.templates
        names = [catalogue.service_names[service_id] for service_id, _ in items]
        minutes = int(self._deployment.cancel_all_validity.total_seconds() // 60)
        qx = self.mo(person, "QX", asked, to=self._deployment.listing_port)
        question = t.cancel_all_confirmation(services=names, code=code, valid_minutes=minutes)
        self.reply(person, qx, question, asked, unique=True)
        word = "是" if person.subscriber.language == "zh" else "Y"
        mo_id = self.mo(person, f"{word}{code}", confirmed)
        done = [
            Cancellation(name, charged) for name, (_, charged) in zip(names, items, strict=True)
        ]
        self.reply(person, mo_id, t.cancelled(done), confirmed, unique=True)
        return mo_id

    # --- notices -------------------------------------------------------------------------

    def reminder(
        self, person: Person, subscription_id: int, service_id: int, ordered: int, run: int
    ) -> Row:
        """The charge reminder the reminder job queues at ``run`` (inside the window); its row,
        whose send time the charging policy reads."""
        catalogue = self._catalogue
        zone = ZoneInfo(person.zone)
        charge_at = dt(run) + self._deployment.reminder_lead_time
        text = person.templates.charge_reminder(
            ordered_at=dt(ordered).astimezone(zone),
            provider=catalogue.provider_names[catalogue.service_provider[service_id]],
            service=catalogue.service_names[service_id],
            service_code=catalogue.service_codes[service_id],
            price_fen=catalogue.service_price[service_id],
            charge_at=charge_at.astimezone(zone),
        )
        return self._mt_row(
            person,
            NOTICE_SUBMIT_DELAY,
            kind=MessageKind.REMINDER,
            text=text,
            at=run,
            unique=True,
            subscription_id=subscription_id,
        )

    def plan_ordered(
        self, person: Person, plan_id: int, ordered: int, effective: int, changed: bool
    ) -> int:
        """The notice ``order_plan`` queues: written at once, sent inside the window."""
        day = dt(effective).astimezone(self._plan_zone).date()
        language = person.subscriber.language
        kind = MessageKind.PLAN_CHANGED if changed else MessageKind.PLAN_ORDERED
        return self._mt(
            person,
            NOTICE_SUBMIT_DELAY,
            kind=kind,
            text=self._plan_ordered(language, plan_id, day, changed),
            at=ordered,
            due=self.window(person, ordered),
            shape=(kind, language, plan_id),
        )

    def plan_effective(self, person: Person, plan_id: int, effective: int, run: int) -> int:
        """The "plan in force" notice the reminder job queues at ``run`` (inside the window)."""
        day = dt(effective).astimezone(self._plan_zone).date()
        language = person.subscriber.language
        return self._mt(
            person,
            NOTICE_SUBMIT_DELAY,
            kind=MessageKind.PLAN_EFFECTIVE,
            text=self._plan_effective(language, plan_id, day),
            at=run,
            shape=("plan_effective", language, plan_id),
        )

    def window(self, person: Person, ts: int) -> int:
        """When a notice queued at ``ts`` may go: at once inside the window, else at opening."""
        due = send_after(dt(ts), person.zone, self._deployment.sending_window)
        return int(due.timestamp())

    # --- rows ----------------------------------------------------------------------------

    def mo(self, person: Person, text: str, at: int, *, to: str | None = None) -> int:
        """An MO as intake stores it (received, handled at once); its id."""
        message_id = next(self._ids)
        subscriber = person.subscriber
        when = dt(at)
        self.rows.append(
            {
                "id": message_id,
                "subscriber_id": subscriber.id,
                "province": subscriber.province,
                "msisdn": subscriber.msisdn,
                "direction": "mo",
                "service_number": to or self._deployment.service_number,
                "kind": "mo",
                "text": text,
                "encoding": choose_encoding(text),
                "parts": 1,
                "status": "received",
                "smsc_message_id": f"gen-{message_id}",
                "in_reply_to": None,
                "subscription_id": None,
                "created_at": when,
                "send_after": None,
                "sent_at": None,
                "receipt_status": None,
                "receipt_at": None,
                "handled_at": when,
            }
        )
        return message_id

    def reply(
        self,
        person: Person,
        mo_id: int,
        text: str,
        at: int,
        *,
        subscription_id: int | None = None,
        kind: MessageKind = MessageKind.REPLY,
        from_number: str | None = None,
        unique: bool = False,
    ) -> int:
        """A direct reply as ``HandledMo.reply`` queues it: at once, lines kept whole."""
        return self._mt(
            person,
            SUBMIT_DELAY,
            kind=kind,
            text=text,
            at=at,
            in_reply_to=mo_id,
            subscription_id=subscription_id,
            from_number=from_number,
            keep_lines=True,
            unique=unique,
        )

    def _mt(self, person: Person, delay: tuple[int, int], **fields: Any) -> int:
        message_id: int = self._mt_row(person, delay, **fields)["id"]
        return message_id

    def _mt_row(
        self,
        person: Person,
        delay: tuple[int, int],
        *,
        kind: str,
        text: str,
        at: int,
        due: int | None = None,
        shape: tuple[object, ...] | None = None,
        unique: bool = False,
        in_reply_to: int | None = None,
        subscription_id: int | None = None,
        from_number: str | None = None,
        keep_lines: bool = False,
    ) -> Row:
        """An MT queued at ``at`` (due then, or at ``due``) as ``mt_values`` shapes it, then
        submitted after ``delay`` with its receipt, as far as both happened before ``at``."""
        message_id = next(self._ids)
        if unique:
            cut = split(text, avoid_breaking_lines=keep_lines)
            encoding, parts = cut.encoding, cut.count
        else:
            encoding, parts = self._segmented(text, keep_lines, shape)
        subscriber = person.subscriber
        created = dt(at)
        queued = created if due is None else dt(due)
        sent = (at if due is None else due) + self._delay(delay)
        receipt = sent + self._delay(RECEIPT_DELAY)
        status = "queued" if sent >= self._at else "sent" if receipt >= self._at else "delivered"
        row = {
            "id": message_id,
            "subscriber_id": subscriber.id,
            "province": subscriber.province,
            "msisdn": subscriber.msisdn,
            "direction": "mt",
            "service_number": from_number or self._deployment.service_number,
            "kind": kind,
            "text": text,
            "encoding": encoding,
            "parts": parts,
            "status": status,
            "smsc_message_id": None if status == "queued" else f"gen-{message_id}",
            "in_reply_to": in_reply_to,
            "subscription_id": subscription_id,
            "created_at": created,
            "send_after": queued,
            "sent_at": None if status == "queued" else dt(sent),
            "receipt_status": "delivered" if status == "delivered" else None,
            "receipt_at": dt(receipt) if status == "delivered" else None,
            "handled_at": None,
        }
        self.rows.append(row)
        return row

    def _delay(self, bounds: tuple[int, int]) -> int:
        """Whole seconds in ``bounds`` (inclusive); cheaper than ``randint``, called per MT."""
        low, high = bounds
        return low + int(self._rng.random() * (high - low + 1))

    def _segmented(
        self, text: str, keep_lines: bool, shape: tuple[object, ...] | None
    ) -> tuple[Encoding, int]:
        """Encoding and part count of ``split``, computed once per text (or per shape and
        length: see the module's docstring)."""
        key = (text, keep_lines) if shape is None else (*shape, len(text), keep_lines)
        known = self._segments.get(key)
        if known is None:
            if len(self._segments) >= CACHE_SIZE:
                self._segments.clear()
            segmented = split(text, avoid_breaking_lines=keep_lines)
            known = self._segments[key] = (segmented.encoding, segmented.count)
        return known

    # --- texts that repeat -----------------------------------------------------------------

    def _provider_and_service(self, service_id: int) -> tuple[str, str]:
        catalogue = self._catalogue
        provider = catalogue.provider_names[catalogue.service_provider[service_id]]
        return provider, catalogue.service_names[service_id]

    def _confirmed_text(self, language: str, service_id: int) -> str:
        provider, service = self._provider_and_service(service_id)
        return self.templates(language).order_confirmed(
            provider=provider, service=service, price_fen=self._catalogue.service_price[service_id]
        )

    def _declined_text(self, language: str, service_id: int) -> str:
        provider, service = self._provider_and_service(service_id)
        return self.templates(language).order_declined(provider=provider, service=service)

    def _cancelled_one_text(self, language: str, service_id: int, charged: bool) -> str:
        name = self._catalogue.service_names[service_id]
        return self.templates(language).cancelled([Cancellation(name, charged)])

    def _plan(self, plan_id: int) -> Plan:
        catalogue = self._catalogue
        return Plan(
            plan_id,
            catalogue.plan_codes[plan_id],
            catalogue.plan_names[plan_id],
            catalogue.plan_fees[plan_id],
        )

    def _plan_ordered_text(self, language: str, plan_id: int, day: date, changed: bool) -> str:
        plan = self._plan(plan_id)
        return self.templates(language).plan_ordered(
            plan=plan.notice_name, fee_fen=plan.monthly_fee_fen, effective_date=day, changed=changed
        )

    def _plan_effective_text(self, language: str, plan_id: int, day: date) -> str:
        """Included services named in service-code order, as ``included_names`` reads them."""
        catalogue, plan = self._catalogue, self._plan(plan_id)
        included = sorted(catalogue.plan_included[plan_id], key=catalogue.service_codes.__getitem__)
        return self.templates(language).plan_effective(
            plan=plan.notice_name,
            fee_fen=plan.monthly_fee_fen,
            effective_date=day,
            included=[catalogue.service_names[s] for s in included],
        )
