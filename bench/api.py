"""Benchmark the authenticated API on PostgreSQL: requests/s and latency percentiles.

    .venv/bin/python bench/api.py                       # reuse a populated vg_api_bench
    .venv/bin/python bench/api.py --generate 1000000    # create and fill it first
    .venv/bin/python bench/api.py --runs 3 --seconds 20 --connections 16

It starts ``vasguard serve`` (HTTP API and loopback SMS engine, no scheduler) on the
database and drives it from this process: an asyncio HTTP/1.1 client over keep-alive
connections, each sending its next request when the answer to the last has arrived
(closed loop), latency measured per request from send to the last byte. Scenarios:

- ``health``: ``GET /health``, no key, no database — the HTTP stack alone;
- ``bad key``: the read below with a known key id and a wrong secret — a 401 after the
  whole key check (key lookup and hash compare) and nothing else;
- ``read``: ``GET /api/v1/subscribers/{msisdn}/timeline`` (``/messages`` while the server
  has no timeline) with a care key, random subscribers of the database;
- ``order``: ``POST /api/v1/orders`` with a partner key, one of that partner's monthly
  services for a random subscriber (each order also queues a confirmation SMS, which
  the server's engine sends through the loopback SMSC).

It also times ``services.keys.authenticate`` in-process (the check each request makes).
The keys it creates are revoked at the end. Orders are left in the database, so
repeated runs order for more and more subscribers; VACUUM ANALYZE runs before each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Role, parse_key, secret_matches
from vasguard.domain.clock import SystemClock
from vasguard.generate import generate
from vasguard.services.keys import authenticate, create_key, revoke_key
from vasguard.store import tables
from vasguard.store.engine import open_engine
from vasguard.store.migrate import upgrade

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/vg_api_bench"
VASGUARD = Path(sys.executable).parent / "vasguard"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", "Host: bench"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float]
    statuses: Counter[int]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        codes = " ".join(f"{code or 'dropped'}:{n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.name:<10}{self.rate:>9,.0f} req/s   p50 {self.percentile(50):6.1f} ms"
            f"   p99 {self.percentile(99):6.1f} ms   max {max(self.latencies) * 1000:6.0f} ms"
            f"   ({len(self.latencies):,} requests; {codes})"
        )


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding":
            raise RuntimeError("chunked answers are not read by this client")
    await reader.readexactly(length)
    return status


async def _load(
    port: int, make: Callable[[], Request], connections: int, warmup: float, seconds: float
) -> tuple[list[float], Counter[int], float]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def connection() -> None:
        while time.perf_counter() < stop_at:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while True:
                    request = make().encode()
                    sent = time.perf_counter()
                    if sent >= stop_at:
                        return
                    status = await _exchange(reader, writer, request)
                    if sent >= measure_from:
                        latencies.append(time.perf_counter() - sent)
                        statuses[status] += 1
            except (ConnectionError, asyncio.IncompleteReadError):
                statuses[0] += 1  # the server dropped the connection: counted, reconnect
            finally:
                writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies, statuses, max(time.perf_counter(), stop_at) - measure_from


def drive(
    name: str, port: int, make: Callable[[], Request], connections: int, seconds: float
) -> Result:
    latencies, statuses, elapsed = asyncio.run(_load(port, make, connections, 2.0, seconds))
    return Result(name, elapsed, latencies, statuses)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, subscribers: int | None) -> None:
    engine = open_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        present = conn.scalar(select(func.count()).select_from(tables.subscribers))
    if not present:
        if subscribers is None:
            sys.exit(f"{url} holds no subscribers: pass --generate 1000000 to fill it")
        print(f"generating {subscribers:,} subscribers (several minutes) ...", flush=True)
        began = time.perf_counter()
        generate(engine, subscribers=subscribers, seed=1, at=datetime.now(UTC))
        print(f"  generated in {time.perf_counter() - began:.0f} s", flush=True)
    engine.dispose()


def vacuum(url: str) -> None:
    engine = open_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def sample(url: str, n: int) -> tuple[list[str], str, list[str], int]:
    """Random msisdns, and the partner with the most monthly services, with their codes."""
    engine = open_engine(url)
    s, p = tables.services.c, tables.providers.c
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(tables.subscribers)) or 0
        msisdns = list(
            conn.scalars(select(tables.subscribers.c.msisdn).order_by(func.random()).limit(n))
        )
        provider = conn.execute(
            select(p.code, func.count())
            .select_from(tables.services.join(tables.providers))
            .where(p.kind == "partner", s.billing_mode == "monthly")
            .group_by(p.code)
            .order_by(func.count().desc(), p.code)
            .limit(1)
        ).one()[0]
        codes = list(
            conn.scalars(
                select(s.code)
                .select_from(tables.services.join(tables.providers))
                .where(p.code == provider, s.billing_mode == "monthly")
            )
        )
    engine.dispose()
    return msisdns, provider, codes, total


def time_authenticate(rt: Runtime, token: str, calls: int) -> tuple[float, float, float]:
    """µs per ``authenticate`` call (its own reads-only unit of work, as a request has),
    µs of it that is parsing and the hash compare alone (no database), and µs for a bare
    ``SELECT 1`` on a pooled connection (checkout, the statement, rollback: the floor of
    any row read)."""
    assert authenticate(rt.reader(), token) is not None
    began = time.perf_counter()
    for _ in range(calls):
        authenticate(rt.reader(), token)
    whole = (time.perf_counter() - began) / calls * 1e6
    presented = parse_key(token)
    assert presented is not None
    stored = presented.secret_sha256
    began = time.perf_counter()
    for _ in range(calls):
        again = parse_key(token)
        assert again is not None and secret_matches(again, stored)
    pure = (time.perf_counter() - began) / calls * 1e6
    began = time.perf_counter()
    for _ in range(calls):
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.rollback()
    floor = (time.perf_counter() - began) / calls * 1e6
    return whole, pure, floor


class Server:
    def __init__(
        self, url: str, port: int, log: Path, settings: dict[str, str] | None = None
    ) -> None:
        """Start ``serve``; ``settings``: further ``VASGUARD_*`` variables for it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VASGUARD_")}
        env |= {
            "VASGUARD_DATABASE_URL": url,
            "VASGUARD_HTTP_PORT": str(port),
            "VASGUARD_SCHEDULER": "false",
            "VASGUARD_LOG_LEVEL": "WARNING",
            # The rate limit is checked on every keyed request, as in production, but set
            # far above what the benchmark sends, so it measures the work, not the limit.
            "VASGUARD_HTTP_RATE_PER_SECOND": "1000000",
            "VASGUARD_HTTP_PARTNER_RATE_PER_SECOND": "1000000",
        }
        env |= settings or {}
        self.port = port
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(VASGUARD), "serve"], env=env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                sys.exit(f"serve exited with {self.process.returncode}; see {log}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                sys.exit(f"serve not ready within 120 s; see {log}")
            time.sleep(0.3)

    def openapi_paths(self) -> set[str]:
        answer = httpx.get(f"http://127.0.0.1:{self.port}/openapi.json", timeout=30)
        return set(answer.json()["paths"])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def load_arguments(
    parser: argparse.ArgumentParser,
    url: str,
    connections: int,
    seconds: float,
    sample: int,
    log: str,
) -> None:
    """The options of a benchmark that fills a database and loads ``serve`` over HTTP."""
    parser.add_argument("--database-url", default=url)
    parser.add_argument(
        "--generate", type=int, metavar="N", help="fill an empty database with N subscribers"
    )
    parser.add_argument("--connections", type=int, default=connections)
    parser.add_argument("--seconds", type=float, default=seconds, help="per scenario and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=sample, help="random msisdns drawn")
    parser.add_argument("--log", default=log, help="serve's log")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, DEFAULT_URL, 16, 15.0, 20_000, "/tmp/vasguard-bench-api.log")
    parser.add_argument("--scenarios", default="health,bad key,read,order")
    args = parser.parse_args()

    prepare(args.database_url, args.generate)
    msisdns, provider, codes, total = sample(args.database_url, args.sample)
    rt = Runtime(Settings(database_url=args.database_url))
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    made = {
        "care": (Role.CARE, None),
        "partner": (Role.PARTNER, provider),
    }
    keys = {
        who: create_key(
            rt.uow(),
            SystemClock(),
            role=role,
            name=f"bench-{who}-{stamp}",
            provider_code=code,
            province=None,
            created_by="bench/api.py",
        )[0]
        for who, (role, code) in made.items()
    }
    presented = parse_key(keys["care"])
    assert presented is not None
    wrong = keys["care"][: -len(presented.secret)] + "x" * len(presented.secret)

    print(
        f"database: {args.database_url}  subscribers: {total:,}  "
        f"partner {provider}: {len(codes)} monthly services"
    )
    print(f"machine: {os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}")
    whole, pure, floor = time_authenticate(rt, keys["care"], 2000)
    print(
        f"key check in-process: authenticate {whole:.0f} µs a call "
        f"(parse + SHA-256 compare {pure:.1f} µs; the rest is the key's row read; "
        f"a bare SELECT 1 on a pooled connection: {floor:.0f} µs)"
    )

    port = free_port()
    server = Server(args.database_url, port, Path(args.log))
    try:
        paths = server.openapi_paths()
        timeline = "/api/v1/subscribers/{msisdn}/timeline" in paths
        read_path = "timeline" if timeline else "messages"
        print(f"read: GET /api/v1/subscribers/{{msisdn}}/{read_path}")
        care = {"Authorization": f"Bearer {keys['care']}"}
        partner = {"Authorization": f"Bearer {keys['partner']}"}
        scenarios: dict[str, Callable[[], Request]] = {
            "health": lambda: Request("GET", "/health"),
            "bad key": lambda: Request(
                "GET",
                f"/api/v1/subscribers/{random.choice(msisdns)}/{read_path}",
                {"Authorization": f"Bearer {wrong}"},
            ),
            "read": lambda: Request(
                "GET", f"/api/v1/subscribers/{random.choice(msisdns)}/{read_path}", care
            ),
            "order": lambda: Request(
                "POST",
                "/api/v1/orders",
                partner,
                json.dumps(
                    {"msisdn": random.choice(msisdns), "service": random.choice(codes)}
                ).encode(),
            ),
        }
        chosen = [s.strip() for s in args.scenarios.split(",")]
        results: dict[str, list[Result]] = {name: [] for name in chosen}
        for run in range(1, args.runs + 1):
            vacuum(args.database_url)
            print(
                f"run {run}/{args.runs}: {args.connections} connections, {args.seconds:.0f} s each"
            )
            for name in chosen:
                result = drive(name, port, scenarios[name], args.connections, args.seconds)
                results[name].append(result)
                print("  " + result.line(), flush=True)
        print("ranges over the runs:")
        for name, runs in results.items():
            rates = [r.rate for r in runs]
            p50 = [r.percentile(50) for r in runs]
            p99 = [r.percentile(99) for r in runs]
            print(
                f"  {name:<10}{min(rates):>7,.0f}–{max(rates):,.0f} req/s   "
                f"p50 {min(p50):.1f}–{max(p50):.1f} ms   p99 {min(p99):.1f}–{max(p99):.1f} ms"
                f"   (median req/s {statistics.median(rates):,.0f})"
            )
    finally:
        server.stop()
        for who in made:
            revoke_key(rt.uow(), SystemClock(), name=f"bench-{who}-{stamp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
