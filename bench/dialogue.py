"""Benchmark the SMS dialogue: `0000`-then-cancel round trips per second, p50/p99 latency.

In process, through the dialogue service every channel uses, against generated data:

    .venv/bin/python bench/dialogue.py --subscribers 1000000 --keep /tmp/vg-1m.db
    .venv/bin/python bench/dialogue.py --database-url sqlite:////tmp/vg-1m.db --reuse
    .venv/bin/python bench/dialogue.py --database-url postgresql://postgres@127.0.0.1/vg_bench \\
        --subscribers 1000000

A dialogue is two MOs from one subscriber who holds at least one monthly service: `0000`
(the listing is built, stored and queued) and `1` (item 1 is cancelled and confirmed).

``--workers N`` runs N threads in the one process, each with its own connection and its
own subscribers (a subscriber's MOs stay in order), as the API serves concurrent requests.
``--batch N`` takes N subscribers' MOs per transaction (group commit, as
``POST /api/v1/sms/mo-batch`` does); 1, the default, is one transaction per MO.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from vasguard.domain.clock import FixedClock
from vasguard.generate import generate
from vasguard.services.deployment import Deployment
from vasguard.services.intake import IncomingMo, receive_mos
from vasguard.store import tables
from vasguard.store.engine import open_engine
from vasguard.store.migrate import upgrade
from vasguard.store.uow import SqlUnitOfWork

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def pick_subscribers(engine: Engine, count: int, seed: int) -> list[str]:
    """Random subscribers with an active monthly subscription, found by random subscription ids."""
    rng = random.Random(seed)
    s, sub, svc = tables.subscriptions, tables.subscribers, tables.services
    with engine.connect() as conn:
        top = conn.scalar(select(func.max(s.c.id))) or 0
        chosen: dict[str, None] = {}
        while len(chosen) < count:
            ids = [rng.randint(1, top) for _ in range(count * 2)]
            rows = conn.execute(
                select(sub.c.msisdn)
                .join_from(s, sub, s.c.subscriber_id == sub.c.id)
                .join(svc, svc.c.id == s.c.service_id)
                .where(s.c.id.in_(ids), s.c.state == "active", svc.c.billing_mode == "monthly")
            ).scalars()
            for msisdn in rows:
                chosen.setdefault(msisdn)
    return list(chosen)[:count]


def cancelled_by_listing(engine: Engine) -> int:
    s = tables.subscriptions
    with engine.connect() as conn:
        return (
            conn.scalar(
                select(func.count()).select_from(s).where(s.c.end_cause == "listing_cancel")
            )
            or 0
        )


def run(
    engine: Engine, msisdns: list[str], label: str, workers: int, batch: int = 1
) -> tuple[float, list[float]]:
    """Every subscriber's dialogue, spread over ``workers`` threads: elapsed, latencies.

    The clock starts after every message already stored, as time would have moved on
    since an earlier run: a listing from an earlier run must not look newer than this one.
    """
    m = tables.messages
    with engine.connect() as conn:
        newest = conn.scalar(select(func.max(m.c.created_at))) or AT
    start = max(newest, AT) + timedelta(minutes=1)
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        shares = [
            pool.submit(dialogues, engine, msisdns[w::workers], f"{label}-{w}", start, batch)
            for w in range(workers)
        ]
        latencies = [x for share in shares for x in share.result()]
    return time.perf_counter() - began, latencies


def dialogues(
    engine: Engine, msisdns: list[str], label: str, start: datetime, batch: int = 1
) -> list[float]:
    """One worker's dialogues: ``batch`` subscribers' MOs per transaction (1: one MO each)."""
    clock = FixedClock(start)
    deployment = Deployment()
    latencies = []
    for first in range(0, len(msisdns), batch):
        group = msisdns[first : first + batch]
        t0 = time.perf_counter()
        for text in ("0000", "1"):
            mos = [
                IncomingMo(msisdn, "10086", text, f"{label}-{first + k}-{text}")
                for k, msisdn in enumerate(group)
            ]
            taken = receive_mos(lambda: SqlUnitOfWork(engine), clock, deployment, mos)
            for mo, result in zip(mos, taken, strict=True):
                if isinstance(result, Exception) or result.duplicate or not result.replies:
                    raise SystemExit(f"{mo}: no reply ({result!r}), so the figures would be wrong")
            clock.advance(timedelta(milliseconds=10))
        latencies.extend([time.perf_counter() - t0] * len(group))
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh temporary SQLite file")
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--dialogues", type=int, default=5_000)
    parser.add_argument("--reuse", action="store_true", help="the database is already generated")
    parser.add_argument("--keep", help="SQLite file to generate into and keep (for --reuse)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="threads in this one process")
    parser.add_argument(
        "--batch", type=int, default=1, help="MOs of that many subscribers per transaction"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        path = args.keep or str(Path(scratch) / "bench.db")
        url = args.database_url or f"sqlite:///{path}"
        engine = open_engine(url, pool_size=max(5, args.workers))
        if not args.reuse:
            upgrade(engine)
            t0 = time.perf_counter()
            generate(engine, subscribers=args.subscribers, seed=args.seed, at=AT)
            print(f"generated {args.subscribers:,} subscribers in {time.perf_counter() - t0:.0f}s")
        with engine.connect() as conn:
            counts = {
                t.name: conn.scalar(select(func.count()).select_from(t))
                for t in (tables.subscribers, tables.services, tables.subscriptions)
            }
        msisdns = pick_subscribers(engine, args.dialogues + args.dialogues // 9, args.seed)
        warm, msisdns = msisdns[: len(msisdns) // 10], msisdns[len(msisdns) // 10 :]
        run_id = uuid.uuid4().hex[:8]  # MO ids must be new on every run, or --reuse measures dedup
        # Fill caches and compile statements first.
        run(engine, warm, f"warm-{run_id}", args.workers, args.batch)
        before = cancelled_by_listing(engine)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        elapsed, latencies = run(engine, msisdns, f"bench-{run_id}", args.workers, args.batch)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cancelled = cancelled_by_listing(engine) - before
        engine.dispose()

    ms = sorted(x * 1000 for x in latencies)
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    print(
        f"backend      {engine.dialect.name}, {args.workers} worker(s) in one process, "
        f"{args.batch} subscriber(s) per transaction"
    )
    print(
        f"data         {counts['subscribers']:,} subscribers, {counts['services']:,} services, "
        f"{counts['subscriptions']:,} subscriptions"
    )
    print(f"dialogues    {len(latencies):,} (0000 then 1; 2 MOs, {2 * len(latencies):,} in all)")
    print(f"cancelled    {cancelled:,} subscriptions by the replies `1`")
    print(f"throughput   {len(latencies) / elapsed:,.0f} dialogues/s")
    print(
        f"latency      p50 {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms"
    )
    print(f"process CPU  {cpu / len(latencies) * 1000:.2f} ms per dialogue (user + system)")
    print(f"peak RSS     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
