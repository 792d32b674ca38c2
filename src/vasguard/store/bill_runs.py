"""Bill runs: their records, the hold one run keeps on its period, and each chunk's charges.

A run is recorded in ``bill_runs`` with its instant, policy, cursor and tally. Each chunk of
subscribers is charged by one ``INSERT … SELECT`` for subscriptions and one for plans
(conditions from ``store/eligibility.py``), conflict-ignoring on the unique (source, period),
so a re-run or a resumed run charges nothing twice; the chunk's cursor and tally are saved
in the same transaction as its charges.

The unique keys keep the ledger right even if two runs of one period overlap, but not their
records: both would count the same subscriptions and both end ``finished``. So a run holds
its period (``period_lock``) from before it opens its record until it has finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    String,
    func,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vasguard.domain.charging import (
    BillRun,
    Charged,
    ChargingPolicy,
    ChunkCounts,
    ExemptCharged,
    Kind,
    PeriodBeingBilled,
    Skip,
    Tally,
    policy_from_json,
    policy_json,
)
from vasguard.domain.clock import local
from vasguard.domain.periods import Period
from vasguard.store.eligibility import Eligibility, instant, reminder_mt
from vasguard.store.locks import holding
from vasguard.store.tables import (
    bill_runs,
    charges,
    plans,
    services,
    subscriber_plans,
    subscribers,
    subscriptions,
)

_CHARGE_COLUMNS = [
    "subscriber_id",
    "province",
    "subscription_id",
    "subscriber_plan_id",
    "period",
    "kind",
    "amount_fen",
    "bill_run_id",
    "confirmation_mo_id",
    "reminder_mt_id",
    "reminder_status",
    "created_at",
]

_KINDS = frozenset(kind.value for kind in Kind)


class BillRunRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @contextmanager
    def period_lock(self, period: Period) -> Iterator[None]:
        """Hold ``period`` for one bill run, across the many transactions of its chunks.

        Refuses with ``PeriodBeingBilled`` if another run holds it. The hold dies with the
        process that took it, so a crashed run never keeps its period from being resumed.
        """
        with holding(self._conn.engine, f"bill-run-{period}") as taken:
            if not taken:
                raise PeriodBeingBilled(self._held_by(period))
            yield

    def finished(self, period: Period) -> bool:
        """Whether a run of ``period`` has finished: the scheduler bills a period once."""
        found = self._conn.scalar(
            select(bill_runs.c.id)
            .where(bill_runs.c.period == str(period), bill_runs.c.status == "finished")
            .limit(1)
        )
        return found is not None

    def _held_by(self, period: Period) -> str:
        row = self._conn.execute(
            select(bill_runs.c.id, bill_runs.c.started_at, bill_runs.c.run_at)
            .where(bill_runs.c.period == str(period), bill_runs.c.status == "running")
            .order_by(bill_runs.c.id.desc())
        ).first()
        holder = (
            "another bill run, just starting"
            if row is None
            else (
                f"bill run {row.id} (started {_shown(row.started_at, period)}, charging "
                f"as of {_shown(row.run_at, period)})"
            )
        )
        return (
            f"period {period} is being billed by {holder}; wait for it to finish, then run "
            f"the bill again if it is still needed (a re-run charges only what is left)"
        )

    def open_run(
        self, period: Period, run_at: datetime, policy: ChargingPolicy, started_at: datetime
    ) -> BillRun:
        """Resume the period's unfinished run at the same instant, or start a new one.

        Called with the period held, so an unfinished run is a dead one. One for another
        instant is marked failed: its charges stand, and the new run, conflict-ignoring,
        charges only what it left.
        """
        row = self._conn.execute(
            select(bill_runs)
            .where(bill_runs.c.period == str(period), bill_runs.c.status == "running")
            .order_by(bill_runs.c.id.desc())
        ).first()
        if row is not None and row.run_at == run_at and row.policy is not None:
            return BillRun(
                row.id,
                period,
                run_at,
                row.cursor,
                True,
                policy_from_json(row.policy),
                _tally(row.summary),
            )
        self._conn.execute(
            update(bill_runs)
            .where(bill_runs.c.period == str(period), bill_runs.c.status == "running")
            .values(status="failed", finished_at=started_at)
        )
        run_id: int = self._conn.execute(
            bill_runs.insert()
            .values(
                period=str(period),
                run_at=run_at,
                status="running",
                started_at=started_at,
                cursor=0,
                charged_count=0,
                charged_fen=0,
                summary=_summary_json(Tally()),
                policy=policy_json(policy, period.zone),
            )
            .returning(bill_runs.c.id)
        ).scalar_one()
        return BillRun(run_id, period, run_at, 0, False, policy, Tally())

    def last_subscriber_id(self) -> int:
        return int(self._conn.scalar(select(func.max(subscribers.c.id))) or 0)

    def chunk_end(self, after: int, size: int) -> int | None:
        """The id of the ``size``-th subscriber after ``after`` (the last one's when fewer
        are left; ``None`` when none is): chunks hold subscribers, not id spans, because a
        shard's ids start at its range (10^14 a shard) and a split or a move leaves gaps."""
        ahead = (
            select(subscribers.c.id)
            .where(subscribers.c.id > after)
            .order_by(subscribers.c.id)
            .limit(size)
            .subquery()
        )
        found = self._conn.scalar(select(func.max(ahead.c.id)))
        return None if found is None else int(found)

    def _insert(self) -> Any:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(charges)

    def charge_chunk(self, run: BillRun, lo: int, hi: int) -> ChunkCounts:
        """Charge what subscribers ``(lo, hi]`` owe, conflicts ignored, and count outcomes.

        PostgreSQL does it in one statement: the candidates with their reason are computed
        once, the insert reads them and the counts come from both. SQLite, without
        data-modifying CTEs, runs the two inserts, then counts reasons and charges apart.
        """
        run_id, rules = run.id, Eligibility(run.period, run.run_at, run.policy)
        if self._conn.dialect.name == "postgresql":
            return self._charge_and_count(run_id, rules, lo, hi)
        period, created, run_literal = (
            literal(str(rules.period)),
            instant(rules.run_at),
            literal(run_id),
        )
        s = subscriptions.c
        owed = (
            rules.source(lo, hi)
            .add_columns(
                s.subscriber_id,
                s.province,
                s.id,
                literal(None, BigInteger()).label("subscriber_plan_id"),
                period,
                rules.kind(),
                rules.amount(),
                run_literal,
                s.confirmation_mo_id,
                reminder_mt.c.id,
                reminder_mt.c.status,
                created,
            )
            .where(rules.eligible())
        )
        self._conn.execute(
            self._insert()
            .from_select(_CHARGE_COLUMNS, owed)
            .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
        )
        self._conn.execute(
            self._insert()
            .from_select(_CHARGE_COLUMNS, self._fees(rules, lo, hi, run_literal))
            .on_conflict_do_nothing(index_elements=["subscriber_plan_id", "period"])
        )
        return ChunkCounts(self._outcomes(rules, lo, hi), self.charged(run_id, lo, hi))

    def _fees(self, rules: Eligibility, lo: int, hi: int, run: Any) -> Select[Any]:
        sp = subscriber_plans.c
        return rules.plan_in_force(lo, hi).add_columns(
            sp.subscriber_id,
            sp.province,
            literal(None, BigInteger()).label("subscription_id"),
            sp.id,
            literal(str(rules.period)),
            literal(Kind.PLAN.value).label("kind"),
            plans.c.monthly_fee_fen,
            run,
            literal(None, BigInteger()).label("confirmation_mo_id"),
            literal(None, BigInteger()).label("reminder_mt_id"),
            literal(None, String()).label("reminder_status"),
            instant(rules.run_at),
        )

    def _charge_and_count(self, run_id: int, rules: Eligibility, lo: int, hi: int) -> ChunkCounts:
        s = subscriptions.c
        run = literal(run_id)
        candidates = (
            rules.source(lo, hi)
            .add_columns(
                s.subscriber_id,
                s.province,
                s.id.label("subscription_id"),
                s.confirmation_mo_id,
                reminder_mt.c.id.label("reminder_mt_id"),
                reminder_mt.c.status.label("reminder_status"),
                rules.reason().label("reason"),
                rules.amount().label("amount_fen"),
            )
            .cte("candidates")
        )
        k = candidates.c
        owed = select(
            k.subscriber_id,
            k.province,
            k.subscription_id,
            literal(None, BigInteger()),
            literal(str(rules.period)),
            k.reason,
            k.amount_fen,
            run,
            k.confirmation_mo_id,
            k.reminder_mt_id,
            k.reminder_status,
            instant(rules.run_at),
        ).where(k.reason.in_([Kind.FIRST.value, Kind.RENEWAL.value]))
        made = (
            postgresql.insert(charges)
            .from_select(_CHARGE_COLUMNS, owed)
            .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
            .returning(charges.c.kind, charges.c.amount_fen)
            .cte("made")
        )
        fees = self._fees(rules, lo, hi, run).cte("fees")
        made_fees = (
            postgresql.insert(charges)
            .from_select(_CHARGE_COLUMNS, fees)
            .on_conflict_do_nothing(index_elements=["subscriber_plan_id", "period"])
            .returning(charges.c.kind, charges.c.amount_fen)
            .cte("made_fees")
        )
        zero = literal(0)
        counted = union_all(
            select(literal("outcome"), k.reason, func.count(), zero).group_by(k.reason),
            select(literal("outcome"), literal(Kind.PLAN.value), func.count(), zero).select_from(
                fees
            ),
            *(
                select(
                    literal("charged"), m.c.kind, func.count(), func.sum(m.c.amount_fen)
                ).group_by(m.c.kind)
                for m in (made, made_fees)
            ),
        )
        outcomes: dict[Kind | Skip, int] = {}
        charged: dict[Kind, Charged] = {}
        for source, name, count, fen in self._conn.execute(counted):
            if source == "charged":
                charged[Kind(name)] = Charged(int(count), int(fen))
            elif count:
                outcomes[_outcome(name)] = int(count)
        return ChunkCounts(outcomes, charged)

    def _outcomes(self, rules: Eligibility, lo: int, hi: int) -> dict[Kind | Skip, int]:
        """How many subscriptions (and plans) of the chunk fall under each reason or kind."""
        reason = rules.reason().label("reason")
        per_subscription = rules.source(lo, hi).add_columns(reason)
        per_plan = rules.plan_in_force(lo, hi).add_columns(literal(Kind.PLAN.value).label("reason"))
        both = union_all(per_subscription, per_plan).subquery()
        rows = self._conn.execute(select(both.c.reason, func.count()).group_by(both.c.reason)).all()
        return {_outcome(r[0]): int(r[1]) for r in rows}

    def charged(self, run_id: int, lo: int, hi: int) -> dict[Kind, Charged]:
        """What this run charged to subscribers ``(lo, hi]``, per kind.

        No condition on the period (the run implies it): given one, SQLite walks every
        charge of the period on each chunk instead of the chunk's subscribers.
        """
        c = charges.c
        rows = self._conn.execute(
            select(c.kind, func.count(), func.coalesce(func.sum(c.amount_fen), 0))
            .where(c.subscriber_id > lo, c.subscriber_id <= hi, c.bill_run_id == run_id)
            .group_by(c.kind)
        ).all()
        return {Kind(r[0]): Charged(int(r[1]), int(r[2])) for r in rows}

    def save_progress(self, run: BillRun, cursor: int, tally: Tally) -> None:
        """Record the chunk as done, in the same transaction as its charges."""
        total = tally.total
        self._conn.execute(
            update(bill_runs)
            .where(bill_runs.c.id == run.id)
            .values(
                cursor=cursor,
                charged_count=total.count,
                charged_fen=total.fen,
                summary=_summary_json(tally),
            )
        )

    def finish(
        self, run: BillRun, finished_at: datetime, tally: Tally, exempt: Sequence[ExemptCharged]
    ) -> None:
        self._conn.execute(
            update(bill_runs)
            .where(bill_runs.c.id == run.id)
            .values(
                status="finished", finished_at=finished_at, summary=_summary_json(tally, exempt)
            )
        )

    def exempt_charged(self, run_id: int) -> list[ExemptCharged]:
        """Charges this run made without a reminder, by exempt service: to be reported."""
        rows = self._conn.execute(
            select(
                services.c.code,
                services.c.reminder_exempt_reason,
                func.count(),
                func.coalesce(func.sum(charges.c.amount_fen), 0),
            )
            .select_from(charges)
            .join(subscriptions, subscriptions.c.id == charges.c.subscription_id)
            .join(services, services.c.id == subscriptions.c.service_id)
            .where(charges.c.bill_run_id == run_id, services.c.reminder_exempt_reason.is_not(None))
            .group_by(services.c.code, services.c.reminder_exempt_reason)
            .order_by(services.c.code)
        ).all()
        return [ExemptCharged(r[0], r[1], int(r[2]), int(r[3])) for r in rows]


def _outcome(name: str) -> Kind | Skip:
    """The kind of charge or the skip reason a computed or stored outcome names."""
    return Kind(name) if name in _KINDS else Skip(name)


def _summary_json(tally: Tally, exempt: Sequence[ExemptCharged] = ()) -> str:
    """``bill_runs.summary``: kind → [count, fen], reason → count, and (when finished) the
    exempt services charged."""
    summary: dict[str, Any] = {
        "charged": {kind.value: [c.count, c.fen] for kind, c in tally.charged.items()},
        "skipped": {skip.value: n for skip, n in tally.skipped.items()},
    }
    if exempt:
        summary["exempt"] = [asdict(line) for line in exempt]
    return json.dumps(summary, sort_keys=True)


def _tally(summary: str | None) -> Tally:
    raw = json.loads(summary or "{}")
    return Tally(
        {
            Kind(kind): Charged(int(n), int(fen))
            for kind, (n, fen) in raw.get("charged", {}).items()
        },
        {Skip(skip): int(n) for skip, n in raw.get("skipped", {}).items()},
    )


def _shown(at: datetime, period: Period) -> str:
    return local(at, period.zone).isoformat(timespec="seconds")
