"""The charging policy: when a subscription owes money for a period, and how much.

These functions are the reference semantics. The rule is stated three times on purpose: here,
in the bill run's set-wise SQL (``store/eligibility.py``, from the same parameters and cut-off
instants computed here) and in the audit's SQL (``store/audit.py``, written apart so that a
bug in one is caught by the other); ``tests/test_ledger_stateful.py`` holds the three to each
other. Decisions the product spec left open are written down where they are made:

* A period is a calendar month in the deployment zone; its first charge belongs to the
  period in which it falls due.
* The first charge is due at the latest of: confirmation; the reminder's send time plus the
  lead time; with delivery receipts required, also the receipt time plus the lead time
  (invariant 2 asks for the reminder to be *sent and delivered* a lead time earlier).
  A reminder-exempt service is due at confirmation.
* A renewal is owed for a period whose first charge fell due before the period began.
* A service is not charged while the subscriber's plan includes it: the plan in force at
  charge time decides, or at the period's last instant for a charge made after the period.
* Every charge needs the subscription to be active at charge time (the run's instant): a
  subscription cancelled before the run is not charged for that period, so one cancelled
  before its first charge is never charged (invariant 3).
* ``free`` first months still write a 0-fen first charge: the row proves the first charge
  was made, with its evidence, and keeps a re-run from charging it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from vasguard.domain.clock import local
from vasguard.domain.periods import Period
from vasguard.domain.refusals import InvalidInput, Refused


class FirstMonth(StrEnum):
    FULL = "full"
    PRORATED = "prorated"
    FREE = "free"


class Kind(StrEnum):
    FIRST = "first"
    RENEWAL = "renewal"
    PLAN = "plan"


class Skip(StrEnum):
    """Why a subscription is not charged in a run, in the order the reasons are tested."""

    NOT_CONFIRMED = "not_confirmed"
    NO_MONTHLY_FEE = "no_monthly_fee"
    GROUP_PAID = "group_paid"
    ENDED = "ended"
    AWAITING_REMINDER = "awaiting_reminder"
    REMINDER_NOT_DELIVERED = "reminder_not_delivered"
    NOT_DUE = "not_due"
    CANCELLED_BEFORE_FIRST_CHARGE = "cancelled_before_first_charge"
    IN_PLAN = "in_plan"
    HELD = "held_by_complaint"
    ALREADY_CHARGED = "already_charged"


@dataclass(frozen=True, slots=True)
class ChargingPolicy:
    lead_time: timedelta = timedelta(hours=24)
    require_delivery_receipt: bool = False
    first_month: FirstMonth = FirstMonth.FULL


def policy_json(policy: ChargingPolicy, zone: str) -> str:
    """The policy as a bill run records it, so its charges can be audited by the same rules."""
    return json.dumps(
        {
            "lead_seconds": int(policy.lead_time.total_seconds()),
            "require_delivery_receipt": policy.require_delivery_receipt,
            "first_month": policy.first_month.value,
            "timezone": zone,
        },
        sort_keys=True,
    )


def policy_from_json(text: str) -> ChargingPolicy:
    raw = json.loads(text)
    return ChargingPolicy(
        lead_time=timedelta(seconds=raw["lead_seconds"]),
        require_delivery_receipt=bool(raw["require_delivery_receipt"]),
        first_month=FirstMonth(raw["first_month"]),
    )


@dataclass(frozen=True, slots=True)
class Reminder:
    """The stored facts of a charge reminder MT."""

    sent_at: datetime | None
    delivered_at: datetime | None = None


def first_charge_due_at(
    confirmed_at: datetime,
    reminder: Reminder | None,
    *,
    exempt: bool,
    policy: ChargingPolicy,
) -> datetime | None:
    """When the first charge falls due; ``None`` while the evidence it waits for is missing."""
    if exempt:
        return confirmed_at
    if reminder is None or reminder.sent_at is None:
        return None
    due = max(confirmed_at, reminder.sent_at + policy.lead_time)
    if policy.require_delivery_receipt:
        if reminder.delivered_at is None:
            return None
        due = max(due, reminder.delivered_at + policy.lead_time)
    return due


def first_month_amount(price_fen: int, due_at: datetime, period: Period, first: FirstMonth) -> int:
    """``prorated``: price × days left (counting the due day) / days in month, rounded down."""
    if first is FirstMonth.FREE:
        return 0
    if first is FirstMonth.FULL:
        return price_fen
    remaining = period.days - period.day_of(due_at) + 1
    return price_fen * remaining // period.days


@dataclass(frozen=True, slots=True)
class SubscriptionFacts:
    """What the stored rows say about one subscription, as the policy needs it."""

    confirmed_at: datetime | None
    ended_at: datetime | None
    billing_mode: str
    price_fen: int
    exempt: bool
    group_paid: bool
    reminder: Reminder | None
    # The instants the subscriber's plan in force included the service: [from, to) spans.
    plan_cover: tuple[tuple[datetime, datetime | None], ...] = ()
    complaint_open: bool = False


@dataclass(frozen=True, slots=True)
class Owed:
    kind: Kind
    amount_fen: int


def assess(
    facts: SubscriptionFacts, period: Period, run_at: datetime, policy: ChargingPolicy
) -> Owed | Skip:
    """What a bill run of ``period`` at ``run_at`` owes for one subscription, or why nothing."""
    if facts.confirmed_at is None:
        return Skip.NOT_CONFIRMED
    if facts.billing_mode != "monthly" or facts.price_fen <= 0:
        return Skip.NO_MONTHLY_FEE
    if facts.group_paid:
        return Skip.GROUP_PAID
    if facts.ended_at is not None and facts.ended_at <= period.start:
        return Skip.ENDED
    reminder = facts.reminder
    if not facts.exempt and (reminder is None or reminder.sent_at is None):
        return Skip.AWAITING_REMINDER
    if (
        not facts.exempt
        and policy.require_delivery_receipt
        and (reminder is None or reminder.delivered_at is None)
    ):
        return Skip.REMINDER_NOT_DELIVERED
    due = first_charge_due_at(facts.confirmed_at, reminder, exempt=facts.exempt, policy=policy)
    if due is None or due > run_at or due >= period.end:
        return Skip.NOT_DUE
    first = due >= period.start
    if facts.ended_at is not None and facts.ended_at <= run_at:
        return Skip.CANCELLED_BEFORE_FIRST_CHARGE if first else Skip.ENDED
    judged = plan_judged_at(period, run_at)
    if any(lo <= judged and (hi is None or hi > judged) for lo, hi in facts.plan_cover):
        return Skip.IN_PLAN
    if facts.complaint_open:
        return Skip.HELD
    if first:
        return Owed(
            Kind.FIRST, first_month_amount(facts.price_fen, due, period, policy.first_month)
        )
    return Owed(Kind.RENEWAL, facts.price_fen)


def plan_judged_at(period: Period, run_at: datetime) -> datetime:
    """The instant whose plan decides inclusion: the charge time, kept inside the period, so a
    closing run after the month does not judge November by December's plan."""
    return min(run_at, period.end - timedelta(microseconds=1))


def plan_fee_owed(
    effective_from: datetime, effective_to: datetime | None, fee_fen: int, period: Period
) -> Owed | None:
    """A plan's monthly fee is owed for each period it is in force on the first day."""
    in_force = effective_from <= period.start and (
        effective_to is None or effective_to > period.start
    )
    if not in_force or fee_fen <= 0:
        return None
    return Owed(Kind.PLAN, fee_fen)


class BillRunRefused(Refused):
    """A bill run that did not start: nothing was charged and no run was recorded."""

    code = "bill_run_refused"


class NotBillableYet(BillRunRefused):
    """The period, or the instant the run would charge at, is later than the wall clock."""

    code = "not_billable_yet"


class PeriodBeingBilled(BillRunRefused):
    """Another bill run holds the period: one run at a time keeps run records and summaries
    equal to the ledger."""

    code = "period_being_billed"


def check_run_time(
    period: Period, run_at: datetime, *, now: datetime, simulate: bool = False
) -> None:
    """Which period a bill run may charge at which instant, ``now`` being the wall clock.

    A period is billed at an instant inside or after it, never before it begins. Nor is it
    billed ahead of time (invariant 10): the period must have begun by the wall clock, and
    the run's instant (``--at``) must not be later than it, or charges would be written
    today for evidence that does not exist yet. ``simulate`` lifts the second rule for
    tests, demos and benchmarks that replay a month. A period not begun is named first: for
    a run at the current time (no ``--at``) that is what the caller needs to hear.
    """
    replay = "or simulate the run (--simulate) to replay a month on test data"
    if not simulate and period.start > now:
        raise NotBillableYet(
            f"period {period} has not begun: it begins {_shown(period.start, period)} and it "
            f"is now {_shown(now, period)}; bill it once it has begun, {replay}"
        )
    if run_at < period.start:
        raise InvalidInput(
            f"period {period} begins {_shown(period.start, period)}; it cannot be billed at "
            f"{_shown(run_at, period)}: bill it at a time in or after the period"
        )
    if not simulate and run_at > now:
        raise NotBillableYet(
            f"a bill run cannot charge at {_shown(run_at, period)}, later than now "
            f"({_shown(now, period)}); bill at a time that has passed, {replay}"
        )


def _shown(at: datetime, period: Period) -> str:
    return local(at, period.zone).isoformat(timespec="seconds")


# --- what a bill run has done ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Charged:
    """Charges made, and their sum in fen."""

    count: int = 0
    fen: int = 0

    def __add__(self, other: Charged) -> Charged:
        return Charged(self.count + other.count, self.fen + other.fen)


@dataclass(frozen=True, slots=True)
class ChunkCounts:
    """One chunk of a bill run: how many subscriptions (and plans) came out owing each kind
    of charge or skipped for each reason, and what the chunk's statements charged per kind.

    The two differ by what an earlier run had charged already: the insert ignored those.
    """

    outcomes: Mapping[Kind | Skip, int]
    charged: Mapping[Kind, Charged]


@dataclass(frozen=True, slots=True)
class Tally:
    """A bill run's summary so far: the charges it made per kind, what it skipped per reason.

    Recorded with each chunk (in the chunk's transaction), so a resumed run goes on counting
    where the crashed one stopped and the finished summary equals the run's charges.
    """

    charged: Mapping[Kind, Charged] = field(default_factory=dict)
    skipped: Mapping[Skip, int] = field(default_factory=dict)

    @property
    def total(self) -> Charged:
        return sum(self.charged.values(), Charged())

    def add(self, chunk: ChunkCounts) -> Tally:
        """Fold one chunk in: what was owed but not charged now had been charged before."""
        charged = dict(self.charged)
        skipped = dict(self.skipped)
        for outcome, count in chunk.outcomes.items():
            if isinstance(outcome, Kind):
                made = chunk.charged.get(outcome, Charged())
                charged[outcome] = charged.get(outcome, Charged()) + made
                if count > made.count:
                    already = Skip.ALREADY_CHARGED
                    skipped[already] = skipped.get(already, 0) + count - made.count
            else:
                skipped[outcome] = skipped.get(outcome, 0) + count
        return Tally(charged, skipped)


@dataclass(frozen=True, slots=True)
class ExemptCharged:
    """What a run charged without a reminder for one reminder-exempt service: the spec asks
    for such services to be reported, with the reason they are exempt."""

    service: str  # the service code
    reason: str
    charges: int
    fen: int


@dataclass(frozen=True, slots=True)
class BillRun:
    """A bill run as recorded: its period, instant and policy, resumed after ``cursor`` (the
    last subscriber id whose charges are committed), with what it has tallied so far."""

    id: int
    period: Period
    run_at: datetime
    cursor: int
    resumed: bool
    policy: ChargingPolicy
    tally: Tally
