"""Benchmark the data generator: rows/s per table, elapsed time and peak memory.

    .venv/bin/python bench/generate.py --subscribers 1000000
    .venv/bin/python bench/generate.py --subscribers 100000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/vg_bench_gen

Without ``--database-url`` it generates into a fresh temporary SQLite file (deleted after).
A given database must be empty; it is migrated first.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rss import RssSampler

from vasguard.generate import generate
from vasguard.store.engine import open_engine
from vasguard.store.migrate import upgrade


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a fresh temporary SQLite file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--at", default="2026-11-24T02:00:00+00:00", help="ISO-8601 with offset")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    args = parser.parse_args()
    at = datetime.fromisoformat(args.at).astimezone(UTC)

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = open_engine(url)
        upgrade(engine)
        sampler = RssSampler()
        sampler.start()
        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 10 or done == total:
                last[0] = now
                print(f"  {stage}: {done:,}/{total:,}", file=sys.stderr, flush=True)

        summary = generate(
            engine,
            subscribers=args.subscribers,
            seed=args.seed,
            at=at,
            chunk_size=args.chunk_size,
            progress=progress,
        )
        sampler.stop()
        engine.dispose()
        size = Path(scratch, "bench.db").stat().st_size if not args.database_url else None

    elapsed = summary.elapsed_seconds
    print(f"backend: {engine.dialect.name}   subscribers: {args.subscribers:,}   seed: {args.seed}")
    print(f"{'table':<18}{'rows':>12}{'write s':>10}{'write rows/s':>15}{'overall rows/s':>16}")
    for table, rows in summary.counts().items():
        seconds = summary.write_seconds.get(table, 0.0)
        write_rate = f"{rows / seconds:,.0f}" if seconds > 0 else "-"
        print(f"{table:<18}{rows:>12,}{seconds:>10.1f}{write_rate:>15}{rows / elapsed:>16,.0f}")
    writing = sum(summary.write_seconds.values())
    print(
        f"{'total':<18}{summary.rows:>12,}{writing:>10.1f}{'':>15}{summary.rows / elapsed:>16,.0f}"
    )
    print(
        f"elapsed: {elapsed:.1f} s "
        f"(writing {writing:.1f} s, building rows {elapsed - writing:.1f} s)"
    )
    # ru_maxrss is in KiB on Linux.
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"peak RSS: {peak_kib / 1024:.0f} MiB (ru_maxrss); sampled {sampler.peak / 2**20:.0f} MiB"
    )
    if size is not None:
        print(f"SQLite file: {size / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
