"""Benchmark the bill run against its floor: one hand-written ``INSERT … SELECT``.

    .venv/bin/python bench/bill_run.py --subscribers 400000            # SQLite, ≈1M subscriptions
    .venv/bin/python bench/bill_run.py --subscribers 4000000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/vg_bench_bill   # ≈10M subscriptions

The data is generated first (``--reuse`` keeps a database generated before). Then, each in
its own process so that peak RSS is its own: the bill run of ``--period`` at ``--at``; the
charges are counted and removed; the floor, a single hand-written statement with the same
eligibility (default policy: 24 h lead, no receipts required, full first month), runs on the
same data. Both must charge the same rows. Prints charges/s, peak RSS and the ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rss import RssSampler
from sqlalchemy import Engine, bindparam, func, select, text

from vasguard.domain.charging import plan_judged_at
from vasguard.domain.clock import FixedClock, SystemClock
from vasguard.domain.periods import Period
from vasguard.services.billing import run_bill
from vasguard.services.deployment import Deployment
from vasguard.store import tables
from vasguard.store.engine import open_engine
from vasguard.store.migrate import upgrade
from vasguard.store.types import UtcDateTime
from vasguard.store.uow import SqlUnitOfWork

FLOOR = """
INSERT INTO charges (subscriber_id, province, subscription_id, subscriber_plan_id, period, kind,
                     amount_fen, bill_run_id, confirmation_mo_id, reminder_mt_id,
                     reminder_status, created_at)
SELECT s.subscriber_id, s.province, s.id, CAST(NULL AS BIGINT), :period,
       CASE WHEN s.confirmed_at >= :start
              OR (v.reminder_exempt_reason IS NULL AND r.sent_at >= :start_cut)
            THEN 'first' ELSE 'renewal' END,
       v.price_fen, CAST(NULL AS BIGINT), s.confirmation_mo_id, r.id, r.status, :run_at
FROM subscriptions s
JOIN services v ON v.id = s.service_id
JOIN messages mo ON mo.id = s.confirmation_mo_id AND mo.direction = 'mo'
                AND mo.subscriber_id = s.subscriber_id
LEFT JOIN messages r ON r.id = s.reminder_mt_id AND r.direction = 'mt'
                    AND r.kind = 'reminder' AND r.subscription_id = s.id
WHERE s.confirmed_at IS NOT NULL
  AND v.billing_mode = 'monthly' AND v.price_fen > 0 AND v.group_paid = :no
  AND (s.ended_at IS NULL OR s.ended_at > :run_at)
  AND s.confirmed_at <= :run_at AND s.confirmed_at < :end
  AND (v.reminder_exempt_reason IS NOT NULL
       OR (r.sent_at IS NOT NULL AND r.sent_at <= :run_cut AND r.sent_at < :end_cut))
  AND NOT EXISTS (SELECT 1 FROM subscriber_plans sp
                  JOIN plan_services ps ON ps.plan_id = sp.plan_id
                  WHERE sp.subscriber_id = s.subscriber_id AND ps.service_id = s.service_id
                    AND sp.effective_from <= :judged
                    AND (sp.effective_to IS NULL OR sp.effective_to > :judged))
  AND NOT EXISTS (SELECT 1 FROM complaints c WHERE c.subscription_id = s.id AND c.status = 'open')
UNION ALL
SELECT sp.subscriber_id, sp.province, CAST(NULL AS BIGINT), sp.id, :period, 'plan',
       p.monthly_fee_fen, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(NULL AS VARCHAR(10)), :run_at
FROM subscriber_plans sp JOIN plans p ON p.id = sp.plan_id
WHERE sp.effective_from <= :start AND (sp.effective_to IS NULL OR sp.effective_to > :start)
  AND p.monthly_fee_fen > 0
ON CONFLICT DO NOTHING
"""


def parent_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bill_phase(url: str, period: str, at: datetime, chunk: int) -> dict[str, float]:
    engine = open_engine(url)
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    summary = run_bill(
        SqlUnitOfWork(engine),
        FixedClock(at),
        Deployment(),
        period,
        wall_clock=SystemClock(),
        chunk=chunk,
        simulate=True,  # replays --at, which may be later than today
    )
    seconds = time.perf_counter() - started
    return {"charges": summary.total_charged, "seconds": seconds, "rss_mb": sampler.stop()}


def floor_phase(url: str, period: str, at: datetime) -> dict[str, float]:
    engine = open_engine(url)
    billed = Period.parse(period)
    lead = timedelta(hours=24)
    instants = {
        "start": billed.start,
        "end": billed.end,
        "run_at": at,
        "start_cut": billed.start - lead,
        "run_cut": at - lead,
        "end_cut": billed.end - lead,
        "judged": plan_judged_at(billed, at),
    }
    statement = text(FLOOR).bindparams(
        *(bindparam(name, value, type_=UtcDateTime()) for name, value in instants.items()),
        bindparam("period", period),
        bindparam("no", False),
    )
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    with engine.begin() as conn:
        charged = conn.execute(statement).rowcount
    seconds = time.perf_counter() - started
    return {"charges": charged, "seconds": seconds, "rss_mb": sampler.stop()}


def ledger(engine: Engine) -> tuple[int, int]:
    c = tables.charges.c
    with engine.connect() as conn:
        row = conn.execute(select(func.count(), func.coalesce(func.sum(c.amount_fen), 0))).one()
    return int(row[0]), int(row[1])


def clear(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(tables.charges.delete())
        conn.execute(tables.bill_runs.delete())
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE charges"))


def child(phase: str, args: argparse.Namespace, url: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--phase", phase, "--database-url", url]
    command += ["--period", args.period, "--at", args.at, "--chunk", str(args.chunk)]
    output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=400_000)
    parser.add_argument("--database-url", help="default: a fresh temporary SQLite file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--at", default="2026-11-24T02:00:00+00:00", help="ISO-8601 with offset")
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--reuse", action="store_true", help="the database is generated already")
    parser.add_argument("--phase", choices=["bill", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    at = datetime.fromisoformat(args.at).astimezone(UTC)

    if args.phase == "bill":
        print(json.dumps(bill_phase(args.database_url, args.period, at, args.chunk)))
        return 0
    if args.phase == "floor":
        print(json.dumps(floor_phase(args.database_url, args.period, at)))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = open_engine(url)
        if not args.reuse:
            from vasguard.generate import generate

            upgrade(engine)
            started = time.perf_counter()
            summary = generate(engine, subscribers=args.subscribers, seed=args.seed, at=at)
            print(
                f"generated {summary.subscriptions:,} subscriptions of {summary.subscribers:,} "
                f"subscribers in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))
        clear(engine)
        with engine.connect() as conn:
            subscriptions = conn.scalar(select(func.count()).select_from(tables.subscriptions))
        bill = child("bill", args, url)
        bill_ledger = ledger(engine)
        clear(engine)
        floor = child("floor", args, url)
        floor_ledger = ledger(engine)
        clear(engine)
        engine.dispose()

    backend = url.split(":", 1)[0]
    print(f"{backend}: {subscriptions:,} subscriptions, period {args.period} at {args.at}")
    for name, result, rows in (("bill run", bill, bill_ledger), ("floor", floor, floor_ledger)):
        rate = result["charges"] / result["seconds"]
        print(
            f"  {name:9} {int(result['charges']):>11,} charges ({rows[1] / 100:,.2f} yuan) "
            f"in {result['seconds']:7.1f} s = {rate:>10,.0f} charges/s "
            f"({rate * 60:,.0f}/min), peak RSS {result['rss_mb']:.0f} MB"
        )
    ratio = (bill["charges"] / bill["seconds"]) / (floor["charges"] / floor["seconds"])
    print(f"  bill run / floor throughput: {ratio:.2f}")
    print(f"  (this driver process, generation included: peak RSS {parent_rss_mb():.0f} MB)")
    if bill_ledger != floor_ledger:
        print(f"  MISMATCH: bill run {bill_ledger} vs floor {floor_ledger}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
