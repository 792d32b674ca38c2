"""Subscribers, their plans and subscriptions, and the messages that prove each consent.

Rows are made one subscriber at a time from a single random stream, so the data depends on
the seed only — not on the chunk size the caller writes in. Ids are assigned here, counting
from 1, so a subscription can name its confirmation message before either is stored.

Each subscription's life is decided first (ordered, answered, reminded, ended), then told
as the dialogue the services would have held: the confirmation request, the 是/否 MO and
its reply, the reminder job's reminder, and a cancellation by an SMS command — ``TD`` with
the service code, an item of a ``0000`` listing, or (when the account was closed) ``QX``
confirmed with ``是``. States, causes and channels are the runtime's own values.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any

from vasguard.domain.catalogue import Subscriber
from vasguard.domain.charging import ChargingPolicy, FirstMonth, Reminder, first_charge_due_at
from vasguard.domain.msisdn import Province
from vasguard.domain.ordering import allocate_code
from vasguard.domain.periods import Period
from vasguard.domain.subscription import Channel, EndCause, State
from vasguard.generate.catalogue import Catalogue
from vasguard.generate.messages import Listed, Messages, Person, dt
from vasguard.generate.numbering import NumberPlan
from vasguard.services.deployment import Deployment

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

# How orders end up (cumulative thresholds); "recent" orders are still before their reminder.
PENDING_SHARE = 0.015
EXPIRED_SHARE = 0.035
DECLINED_SHARE = 0.01
CANCELLED_SHARE = 0.17
RECENT_SHARE = 0.03
RECENT_WINDOW = 3 * DAY
# A cancellation soon after the reminder: the product working as intended.
EARLY_CANCEL_SHARE = 0.35
# Cancellations by an item of a 0000 listing; by a bare TD answering the one open reminder
# (when it is the only one); the others send TD and the service code.
LISTING_CANCEL_SHARE = 0.45
REMINDER_CANCEL_SHARE = 0.3
# The expiry job runs this often: an order expires at most this long after its deadline.
EXPIRY_LAG = 10 * MINUTE

# Plans: some subscribers changed plan once; a few have a change taking effect next month.
PLAN_HISTORY_SHARE = 0.25
PLAN_FUTURE_SHARE = 0.01

# Reminders go out only after this long; the reminder job runs every few minutes.
REMINDER_AFTER = 2 * DAY

# An account is opened in a shop (care); later orders come through every channel (weights
# cumulative, as ``choices`` takes them without summing per call).
FIRST_PLAN_CHANNEL = Channel.CARE.value
PARTNER_CHANNELS = (Channel.PARTNER, Channel.SMS, Channel.WEB, Channel.CARE)
PARTNER_CHANNEL_WEIGHTS = tuple(itertools.accumulate((70, 15, 10, 5)))
OWN_CHANNELS = (Channel.SMS, Channel.WEB, Channel.CARE)
OWN_CHANNEL_WEIGHTS = tuple(itertools.accumulate((50, 30, 20)))
PLAN_CHANGE_CHANNELS = (Channel.SMS.value, Channel.WEB.value, Channel.CARE.value)


@dataclass(slots=True)
class Chunk:
    """The rows of one batch of subscribers, in the order they must be inserted."""

    subscribers: list[Row] = field(default_factory=list)
    subscriber_plans: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    subscriptions: list[Row] = field(default_factory=list)
    listings: list[Row] = field(default_factory=list)
    listing_items: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class _Order:
    """One subscription's life as decided, before its cancellation is told."""

    row: Row
    service_id: int
    ordered: int
    confirmed: int | None = None
    reminded: int | None = None
    reminder_sent: datetime | None = None
    ended: int | None = None


class CustomerFactory:
    """Builds subscribers in id order; each call continues the same stream."""

    def __init__(
        self,
        catalogue: Catalogue,
        numbers: NumberPlan,
        provinces: list[Province],
        rng: Random,
        at: datetime,
        deployment: Deployment | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._numbers = numbers
        self._rng = rng
        self._at = int(at.timestamp())
        self._deployment = deployment = deployment or Deployment()
        self._zones = {p.code: p.timezone for p in provinces}
        self._messages = Messages(catalogue, deployment, rng, self._at)
        self._confirm_window = int(deployment.confirmation_window.total_seconds())
        self._policy = ChargingPolicy(
            lead_time=deployment.reminder_lead_time,
            require_delivery_receipt=deployment.require_delivery_receipt,
            first_month=FirstMonth(deployment.first_month),
        )
        self._next_subscriber = 1
        self._next_plan_row = itertools.count(1)
        self._next_subscription = itertools.count(1)

    def chunk(self, count: int) -> Chunk:
        """The next ``count`` subscribers with everything that hangs off them."""
        out = Chunk()
        for _ in range(count):
            self._subscriber(out)
        messages = self._messages
        out.messages, messages.rows = messages.rows, []
        out.listings, messages.listings = messages.listings, []
        out.listing_items, messages.listing_items = messages.listing_items, []
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
        person = Person(
            Subscriber(subscriber_id, msisdn, province, language, status),
            self._zones[province],
            created,
            end,
            self._messages.templates(language),
        )
        out.subscribers.append(
            {
                "id": subscriber_id,
                "msisdn": msisdn,
                "province": province,
                "language": language,
                "status": status,
                "created_at": dt(created),
            }
        )
        excluded = self._plans(person, out)
        self._subscriptions(person, excluded, out)

    # --- plans -----------------------------------------------------------------------------

    def _plans(self, person: Person, out: Chunk) -> set[int]:
        """Write the plan history; return the services those plans include."""
        rng, catalogue = self._rng, self._catalogue
        first = catalogue.pick_plan(rng)
        # (plan, effective from, ordered at, channel)
        rows = [(first, person.created, person.created, FIRST_PLAN_CHANNEL)]
        draw = rng.random()
        span = person.end - person.created
        if draw < PLAN_HISTORY_SHARE and span > 62 * DAY:
            ordered = person.created + 31 * DAY + int(rng.random() * (span - 62 * DAY))
            rows.append(self._plan_change(first, ordered))
        elif draw < PLAN_HISTORY_SHARE + PLAN_FUTURE_SHARE and not person.closed:
            this_month = int(self._period(self._at).start.timestamp())
            rows.append(
                self._plan_change(first, rng.randint(max(person.created, this_month), self._at - 1))
            )
        excluded: set[int] = set()
        for n, (plan_id, effective_from, ordered, channel) in enumerate(rows):
            effective_to = rows[n + 1][1] if n + 1 < len(rows) else None
            if effective_to is None and person.closed:
                effective_to = person.end
            excluded.update(catalogue.plan_included[plan_id])
            # An account's first plan takes effect at once, so its order notice says it all;
            # a change is announced when ordered, and by the reminder job once in force.
            order_notice = self._messages.plan_ordered(
                person, plan_id, ordered, effective_from, changed=n > 0
            )
            effective_notice = order_notice if n == 0 else None
            if n > 0:
                effective_notice = self._effective_notice(
                    person, plan_id, effective_from, effective_to
                )
            out.subscriber_plans.append(
                {
                    "id": next(self._next_plan_row),
                    "subscriber_id": person.subscriber.id,
                    "province": person.subscriber.province,
                    "plan_id": plan_id,
                    "effective_from": dt(effective_from),
                    "effective_to": None if effective_to is None else dt(effective_to),
                    "ordered_at": dt(ordered),
                    "channel": channel,
                    "order_notice_mt_id": order_notice,
                    "effective_notice_mt_id": effective_notice,
                }
            )
        return excluded

    def _period(self, ts: int) -> Period:
        return Period.of(dt(ts), self._deployment.timezone)

    def _plan_change(self, current: int, ordered: int) -> tuple[int, int, int, str]:
        """A change ordered at ``ordered``: it takes effect with the next billing period."""
        effective = int(self._period(ordered).next().start.timestamp())
        return self._other_plan(current), effective, ordered, self._rng.choice(PLAN_CHANGE_CHANNELS)

    def _effective_notice(
        self, person: Person, plan_id: int, effective: int, effective_to: int | None
    ) -> int | None:
        """The reminder job's "plan in force" notice: its first run inside the window after
        the change took effect, if that was before ``at`` and the plan was still held."""
        run = self._messages.window(person, effective + self._rng.randint(MINUTE, 12 * HOUR))
        if run >= self._at or (effective_to is not None and run >= effective_to):
            return None
        return self._messages.plan_effective(person, plan_id, effective, run)

    def _other_plan(self, plan_id: int) -> int:
        other = self._catalogue.pick_plan(self._rng)
        while other == plan_id:
            other = self._catalogue.pick_plan(self._rng)
        return other

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

    def _subscriptions(self, person: Person, excluded: set[int], out: Chunk) -> None:
        services = self._pick_services(self._subscription_count(), excluded)
        # Codes are drawn as place_order draws them, distinct among all the subscriber's.
        codes: set[str] = set()
        orders: list[_Order] = []
        for service_id in services:
            code = allocate_code(codes, self._rng)
            codes.add(code)
            orders.append(self._order(person, service_id, code))
        if person.closed:
            self._close_account(person, orders, codes)
        else:
            self._cancellations(person, orders)
        out.subscriptions.extend(order.row for order in orders)

    def _order(self, person: Person, service_id: int, code: str) -> _Order:
        """Decide how the order went and write its request and answer; ends come later."""
        rng, catalogue, at = self._rng, self._catalogue, self._at
        subscription_id = next(self._next_subscription)
        provider_id = catalogue.service_provider[service_id]
        if provider_id == 1:
            channel = rng.choices(OWN_CHANNELS, cum_weights=OWN_CHANNEL_WEIGHTS)[0]
        else:
            channel = rng.choices(PARTNER_CHANNELS, cum_weights=PARTNER_CHANNEL_WEIGHTS)[0]
        order_ref = None
        if channel is Channel.PARTNER:
            order_ref = f"{catalogue.provider_codes[provider_id]}-{subscription_id}"
        elif channel is Channel.WEB:
            order_ref = f"web-{subscription_id}"
        row: Row = {
            "id": subscription_id,
            "subscriber_id": person.subscriber.id,
            "province": person.subscriber.province,
            "service_id": service_id,
            "state": State.ACTIVE.value,
            "channel": channel.value,
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
        if draw < PENDING_SHARE and person.subscriber.status == "active":
            ordered = at - rng.randint(MINUTE, 23 * HOUR)
            row["state"] = State.PENDING.value
        elif draw < PENDING_SHARE + EXPIRED_SHARE:
            ordered = rng.randint(window_start, person.end - DAY - EXPIRY_LAG - MINUTE)
            row["state"] = State.EXPIRED.value
            row["ended_at"] = dt(ordered + self._confirm_window + rng.randint(1, EXPIRY_LAG))
            row["end_cause"] = EndCause.UNCONFIRMED.value
        else:
            if rng.random() < RECENT_SHARE and not person.closed:
                ordered = rng.randint(max(window_start, at - RECENT_WINDOW), at - 4 * HOUR)
            else:
                ordered = rng.randint(window_start, person.end - 4 * HOUR)
        order = _Order(row, service_id, ordered)
        row["ordered_at"] = dt(ordered)
        row["confirm_by"] = dt(ordered + self._confirm_window)
        row["request_mt_id"] = self._messages.request(
            person, subscription_id, service_id, code, ordered
        )
        if row["state"] == State.ACTIVE.value:
            answered = ordered + 20 + min(int(rng.expovariate(1 / 600)), 3 * HOUR)
            if draw < PENDING_SHARE + EXPIRED_SHARE + DECLINED_SHARE:
                self._declined(person, order, answered)
            else:
                cancelled = person.closed or draw > 1 - CANCELLED_SHARE
                self._confirmed(person, order, answered, cancelled)
        return order

    def _declined(self, person: Person, order: _Order, answered: int) -> None:
        """否{code}: the order ends at once, with the MO as its evidence."""
        row = order.row
        mo_id = self._messages.decline(
            person, row["id"], order.service_id, row["confirmation_code"], answered
        )
        row.update(
            state=State.CANCELLED.value,
            ended_at=dt(answered),
            end_cause=EndCause.DECLINED.value,
            end_message_id=mo_id,
        )

    def _confirmed(self, person: Person, order: _Order, confirmed: int, cancelled: bool) -> None:
        """是{code}, then the reminder if it was due before the order ended (if it did)."""
        rng, row = self._rng, order.row
        mo_id = self._messages.confirm(
            person, row["id"], order.service_id, row["confirmation_code"], confirmed
        )
        row["state"] = State.ACTIVE.value
        row["confirmed_at"] = dt(confirmed)
        row["confirmation_mo_id"] = mo_id
        order.confirmed = confirmed
        if cancelled:
            if person.closed:
                ended = person.end
            elif rng.random() < EARLY_CANCEL_SHARE:
                ended = confirmed + rng.randint(10 * MINUTE, 3 * DAY)
            else:
                span = max(0, person.end - confirmed - 2 * MINUTE)
                ended = confirmed + MINUTE + int(rng.random() * span)
            order.ended = min(ended, self._at - MINUTE)
        reminder_due = self._catalogue.reminder_applies(order.service_id) and (
            confirmed < self._at - REMINDER_AFTER
        )
        if not reminder_due:
            return
        run = self._messages.window(person, confirmed + rng.randint(MINUTE, 20 * MINUTE))
        if order.ended is None or run < order.ended:
            reminder = self._messages.reminder(
                person, row["id"], order.service_id, order.ordered, run
            )
            row["reminder_queued_at"] = dt(run)
            row["reminder_mt_id"] = reminder["id"]
            order.reminded = run
            order.reminder_sent = reminder["sent_at"]

    # --- cancellations -------------------------------------------------------------------

    def _cancellations(self, person: Person, orders: list[_Order]) -> None:
        """Tell each decided cancellation, in time order, as the customer would send it.

        A listing's numbers count until the next 0000, so a listing dialogue starts only
        after the previous one ended; a bare TD only when it can mean one subscription;
        otherwise the customer sends TD and the code."""
        ending = sorted(
            (o for o in orders if o.ended is not None and o.row["end_cause"] is None),
            key=lambda o: (o.ended, o.row["id"]),
        )
        free_from = 0
        for order in ending:
            assert order.ended is not None and order.confirmed is not None
            charged = self._charged(order, order.ended)
            draw = self._rng.random()
            if draw > 1 - REMINDER_CANCEL_SHARE and self._open_reminders(orders, order.ended) == [
                order
            ]:
                mo_id = self._messages.cancel_reminded(person, order.service_id, order.ended)
                self._end(order, EndCause.TD_REMINDER, mo_id)
                continue
            if draw < LISTING_CANCEL_SHARE:
                listed = max(order.confirmed + 10, order.ended - self._rng.randint(30, 10 * MINUTE))
                if listed > free_from and listed < order.ended:
                    items = self._listing(person, orders, listed)
                    number = next(i.number for i in items if i.subscription_id == order.row["id"])
                    mo_id = self._messages.cancel_item(
                        person, number, order.service_id, charged, order.ended
                    )
                    self._end(order, EndCause.LISTING_CANCEL, mo_id)
                    free_from = order.ended
                    continue
            mo_id = self._messages.cancel_by_code(person, order.service_id, charged, order.ended)
            self._end(order, EndCause.TD_CODE, mo_id)

    def _open_reminders(self, orders: list[_Order], at: int) -> list[_Order]:
        """What a bare TD at ``at`` may answer: reminded, still active, not yet charged."""
        return [
            o
            for o in orders
            if o.reminded is not None
            and o.reminded < at
            and (o.ended is None or o.ended >= at)
            and not self._charged(o, at)
        ]

    def _close_account(self, person: Person, orders: list[_Order], codes: set[str]) -> None:
        """Before closing the account the customer lists everything and cancels it all:
        0000, then QX, then 是{code} — the services' cancel-all dialogue."""
        rng = self._rng
        confirmed_at = person.end
        asked = confirmed_at - rng.randint(10, 5 * MINUTE)
        listed = asked - rng.randint(20, 2 * MINUTE)
        ending = [o for o in orders if o.ended is not None and o.row["end_cause"] is None]
        if not ending:
            return
        items = self._listing(person, orders, listed)
        by_id = {o.row["id"]: o for o in ending}
        named = [by_id[i.subscription_id] for i in items]
        mo_id = self._messages.cancel_all(
            person,
            [(o.service_id, self._charged(o, confirmed_at)) for o in named],
            allocate_code(codes, rng),
            asked,
            confirmed_at,
        )
        for order in named:
            self._end(order, EndCause.CANCEL_ALL, mo_id)

    def _listing(self, person: Person, orders: list[_Order], at: int) -> list[Listed]:
        """Send the 0000 listing of what is active at ``at``, numbered as ``number_items``
        numbers it: order date, then service code."""
        codes = self._catalogue.service_codes
        active = sorted(
            (
                o
                for o in orders
                if o.confirmed is not None
                and o.confirmed < at
                and (o.ended is None or o.ended > at)
            ),
            key=lambda o: (o.ordered, codes[o.service_id], o.row["id"]),
        )
        items = [Listed(n, o.row["id"], o.service_id) for n, o in enumerate(active, start=1)]
        self._messages.listing(person, items, at)
        return items

    def _charged(self, order: _Order, ended: int) -> bool:
        """Whether the charging policy had made a first charge due before the cancellation:
        what the cancellation reply tells (group-paid services are never charged)."""
        service_id = order.service_id
        if order.confirmed is None or self._catalogue.service_group_paid[service_id]:
            return False
        reminder = None if order.reminder_sent is None else Reminder(order.reminder_sent)
        due = first_charge_due_at(
            dt(order.confirmed),
            reminder,
            exempt=self._catalogue.service_exempt[service_id] is not None,
            policy=self._policy,
        )
        return due is not None and due < dt(ended)

    @staticmethod
    def _end(order: _Order, cause: EndCause, message_id: int) -> None:
        assert order.ended is not None
        order.row.update(
            state=State.CANCELLED.value,
            ended_at=dt(order.ended),
            end_cause=cause,
            end_message_id=message_id,
        )
