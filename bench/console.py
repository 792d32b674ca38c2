"""Benchmark the console's pages on PostgreSQL: latency percentiles of the dashboard, the
partner scorecards and the subscriber page (issue 11: under 200 ms p95 at 1M subscribers).

    .venv/bin/python bench/console.py --generate 1000000   # create and fill vg_console_bench
    .venv/bin/python bench/console.py                      # reuse it
    .venv/bin/python bench/console.py --runs 3 --seconds 10 --connections 4 --recount

Filling an empty database: the generator (``bench/api.py``'s ``prepare``), then one bill
run of the current month (the generator writes no charges) and the figures job over 90
days and over its default 2, both timed: the dashboard and the scorecards read only what
that job wrote. ``--recount`` times the figures job again on a filled database. A
subscriber with at least 50 subscriptions and 500 messages is made through the services
if there is none (orders confirmed by MO, then ``0000`` listings).

It then starts ``vasguard serve`` (no scheduler, no webhooks), logs in to the console
with a new operator key as a browser does (the login form's CSRF field and cookie, then
the ``vg_session`` cookie) and drives each page with ``bench/api.py``'s closed-loop
client. The server's CPU per request comes from ``/proc/<pid>/stat``. Before the HTTP
runs, the services each page calls are timed in-process, which splits a page's time
between its database reads and the rest (templates, HTTP, the session check).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from api import Request, Result, Server, drive, free_port, load_arguments, prepare, vacuum
from sqlalchemy import func, select

from vasguard.bootstrap import Runtime
from vasguard.config import Settings
from vasguard.domain.access import Principal, Role
from vasguard.domain.clock import SystemClock
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.figures import Days
from vasguard.domain.periods import Period
from vasguard.domain.refusals import Refused
from vasguard.domain.subscription import Channel
from vasguard.services.billing import run_bill
from vasguard.services.figures import dashboard, recount_figures, scorecards
from vasguard.services.intake import receive_mo
from vasguard.services.keys import authenticate, create_key, revoke_key
from vasguard.services.ledger import charges_page
from vasguard.services.orders import find_subscriber, place_order
from vasguard.services.plans import plan_history
from vasguard.services.subscribers import timeline
from vasguard.services.subscriptions import subscriptions_of
from vasguard.store import tables

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/vg_console_bench"
BUSY_SUBSCRIPTIONS = 50
BUSY_MESSAGES = 500
SHOWN = 100  # what the subscriber page reads of each list (channels/console/subscribers.py)
BY = Cause(CauseKind.CLI, "bench/console.py")


def fill(rt: Runtime, recount: bool) -> None:
    """Charges (one bill run) if there are none; the figures if there are none or asked."""
    clock, deployment = SystemClock(), rt.deployment
    with rt.engine.connect() as conn:
        charged = conn.scalar(select(func.count()).select_from(tables.charges))
        counted = conn.scalar(select(func.count()).select_from(tables.daily_figures))
    if not charged:
        period = str(Period.of(clock.now(), deployment.timezone))
        began = time.perf_counter()
        summary = run_bill(rt.uow(), clock, deployment, period, wall_clock=clock)
        print(
            f"bill run {period}: {summary.total_charged:,} charges "
            f"in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
    if counted and not recount:
        return
    for days in (90, rt.settings.figures_days):  # a backfill, then the scheduled job's
        began = time.perf_counter()
        done = recount_figures(rt.uow(), clock, deployment, days)
        print(
            f"figures job, {days} days ({done.days.first}–{done.days.last}): "
            f"{done.rows:,} rows at the finest grain in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
    with rt.engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(tables.daily_figures))
    print(f"  daily_figures holds {stored:,} rows (with the sums over provinces and providers)")


def busy_subscriber(rt: Runtime) -> str:
    """A number with ``BUSY_SUBSCRIPTIONS`` subscriptions and ``BUSY_MESSAGES`` messages,
    made through the services (orders confirmed by MO, then listings) if none has them."""
    s, m = tables.subscriptions.c, tables.messages.c
    with rt.engine.connect() as conn:
        held = (
            select(s.subscriber_id)
            .group_by(s.subscriber_id)
            .having(func.count() >= BUSY_SUBSCRIPTIONS)
            .subquery()
        )
        found = conn.scalar(
            select(tables.subscribers.c.msisdn)
            .join(held, held.c.subscriber_id == tables.subscribers.c.id)
            .where(
                select(func.count())
                .where(m.subscriber_id == tables.subscribers.c.id)
                .scalar_subquery()
                >= BUSY_MESSAGES
            )
            .limit(1)
        )
        if found is not None:
            return str(found)
        msisdn = str(
            conn.scalar(select(tables.subscribers.c.msisdn).order_by(func.random()).limit(1))
        )
        codes = list(
            conn.scalars(
                select(tables.services.c.code)
                .where(tables.services.c.billing_mode == "monthly")
                .order_by(func.random())
                .limit(4 * BUSY_SUBSCRIPTIONS)
            )
        )
    clock, deployment = SystemClock(), rt.deployment

    def mo(text: str) -> None:
        receive_mo(
            rt.uow(), clock, deployment, msisdn=msisdn, to=deployment.service_number, text=text
        )

    began = time.perf_counter()
    ordered = 0
    for code in codes:
        if ordered == BUSY_SUBSCRIPTIONS:
            break
        try:
            placed = place_order(
                rt.uow(),
                clock,
                deployment,
                msisdn=msisdn,
                service_code=code,
                channel=Channel.CARE,
                cause=BY,
            )
        except Refused:
            continue  # held already, or in the subscriber's plan
        mo(f"Y{placed.code}")
        ordered += 1
    listings = 0
    while message_count(rt, msisdn) < BUSY_MESSAGES:
        mo("0000")
        listings += 1
    print(
        f"made {msisdn}: {ordered} orders confirmed by MO and {listings} listings "
        f"in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return msisdn


def message_count(rt: Runtime, msisdn: str) -> int:
    sub = tables.subscribers.c
    of = select(sub.id).where(sub.msisdn == msisdn).scalar_subquery()
    counted = select(func.count()).where(tables.messages.c.subscriber_id == of)
    with rt.engine.connect() as conn:
        return int(conn.scalar(counted) or 0)


def sample(rt: Runtime, n: int) -> tuple[list[str], str, int]:
    """Random msisdns, the partner with the most orders in the figures, and the total."""
    f, p = tables.daily_figures.c, tables.providers.c
    with rt.engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(tables.subscribers)) or 0
        msisdns = list(
            conn.scalars(select(tables.subscribers.c.msisdn).order_by(func.random()).limit(n))
        )
        provider = conn.scalar(
            select(p.code)
            .join(tables.daily_figures, f.provider_id == p.id)
            .where(p.kind == "partner", f.province == "00", f.day.like("____-__-__"))
            .group_by(p.code)
            .order_by(func.sum(f.orders).desc(), p.code)
            .limit(1)
        )
    return msisdns, str(provider), int(total)


def log_in(port: int, key: str) -> str:
    """The ``vg_session`` cookie of a console login over HTTP, as a browser gets it."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
        form = client.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        answer = client.post("/console/login", data={"key": key, "csrf": csrf.group(1)})
        assert answer.status_code == 303, answer.text
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("vg_session=")
        )
    return cookie.split(";")[0]


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (``/proc/<pid>/stat``, utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process(
    rt: Runtime, principal: Principal, busy: str, provider: str, calls: int
) -> dict[str, float]:
    """Median ms of what each page asks of the services, called as its route calls them."""
    now, zone = datetime.now(UTC), rt.deployment.timezone
    month = str(Period.of(now, zone))

    def board(days: int, **kw: str) -> Callable[[], object]:
        picked = Days.ending(now, zone, days)
        return lambda: dashboard(rt.reader(), picked, **kw)

    def page() -> object:
        with rt.uow() as uow:
            find_subscriber(uow, busy, principal)
        plan_history(rt.uow(), busy, principal)
        subscriptions_of(rt.uow(), busy, principal, after=0, limit=SHOWN)
        charges_page(rt.uow(), rt.deployment, principal, after=0, limit=SHOWN, msisdn=busy)
        return timeline(rt.uow(), msisdn=busy, principal=principal, after=None, limit=SHOWN)

    work: dict[str, Callable[[], object]] = {
        "dashboard 30 days": board(30),
        "dashboard 90 days": board(90),
        "dashboard, province 31": board(30, province="31"),
        f"dashboard, partner {provider}": board(30, provider_code=provider),
        "scorecards, this month": lambda: scorecards(
            rt.reader(), rt.deployment, month, flagged_by=rt.deployment.scorecard_thresholds
        ),
        "subscriber page (50 subs)": page,
    }
    timed: dict[str, float] = {}
    for name, call in work.items():
        call()
        spent = []
        for _ in range(calls):
            began = time.perf_counter()
            call()
            spent.append(time.perf_counter() - began)
        timed[name] = statistics.median(spent) * 1000
    return timed


def line(result: Result, cpu_ms: float) -> str:
    if not result.latencies:
        return f"{result.name:<24}no answer within the run"
    codes = " ".join(f"{code or 'dropped'}:{n}" for code, n in sorted(result.statuses.items()))
    return (
        f"{result.name:<24}{result.rate:>7,.1f} req/s   p50 {result.percentile(50):6.1f}"
        f"   p95 {result.percentile(95):6.1f}   p99 {result.percentile(99):6.1f}"
        f"   max {max(result.latencies) * 1000:6.0f} ms   server CPU {cpu_ms:5.1f} ms/req"
        f"   ({len(result.latencies):,}; {codes})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    load_arguments(parser, DEFAULT_URL, 4, 10.0, 2_000, "/tmp/vasguard-bench-console.log")
    parser.add_argument("--recount", action="store_true", help="time the figures job again")
    parser.add_argument("--scenarios", help="comma-separated names (default: all)")
    args = parser.parse_args()

    prepare(args.database_url, args.generate)
    rt = Runtime(Settings(database_url=args.database_url))
    fill(rt, args.recount)
    busy = busy_subscriber(rt)
    msisdns, provider, total = sample(rt, args.sample)
    now = datetime.now(UTC)
    zone = rt.deployment.timezone
    last_month = str(Period.of(Period.of(now, zone).start - timedelta(days=1), zone))
    name = f"bench-console-{now:%Y%m%d%H%M%S}"
    key = create_key(
        rt.uow(),
        SystemClock(),
        role=Role.OPERATOR,
        name=name,
        provider_code=None,
        province=None,
        created_by="bench/console.py",
    )[0]
    principal = authenticate(rt.reader(), key)
    assert principal is not None
    print(
        f"database: {args.database_url}  subscribers: {total:,}  busy subscriber {busy}: "
        f"{message_count(rt, busy):,} messages  busiest partner: {provider}"
    )
    print(f"machine: {os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}")
    vacuum(args.database_url)
    print("in-process, the services each page calls (median of 20, ms):")
    for what, ms in in_process(rt, principal, busy, provider, 20).items():
        print(f"  {what:<32}{ms:7.1f}")

    port = free_port()
    server = Server(
        args.database_url,
        port,
        Path(args.log),
        {"VASGUARD_WEBHOOKS": "false", "VASGUARD_FIGURES_INTERVAL_MINUTES": "100000"},
    )
    try:
        cookie = {"Cookie": log_in(port, key)}

        def get(path: str) -> Callable[[], Request]:
            return lambda: Request("GET", path, cookie)

        scenarios: dict[str, Callable[[], Request]] = {
            "dashboard 30 days": get("/console/dashboard?days=30"),
            "dashboard 90 days": get("/console/dashboard?days=90"),
            "dashboard province 31": get("/console/dashboard?days=30&province=31"),
            "dashboard partner": get(f"/console/dashboard?days=30&provider={provider}"),
            "scorecards this month": get("/console/partners"),
            "scorecards last month": get(f"/console/partners?period={last_month}"),
            "subscriber, 50 subs": get(f"/console/subscribers/{busy}"),
            "subscriber, random": lambda: Request(
                "GET", f"/console/subscribers/{random.choice(msisdns)}", cookie
            ),
        }
        chosen = (
            [s.strip() for s in args.scenarios.split(",")] if args.scenarios else list(scenarios)
        )
        results: dict[str, list[tuple[Result, float]]] = {name: [] for name in chosen}
        for run in range(1, args.runs + 1):
            vacuum(args.database_url)
            print(
                f"run {run}/{args.runs}: {args.connections} connections, "
                f"{args.seconds:.0f} s each (after 2 s of warm-up)"
            )
            for what in chosen:
                cpu, wall = cpu_seconds(server.process.pid), time.perf_counter()
                result = drive(what, port, scenarios[what], args.connections, args.seconds)
                busy_share = (cpu_seconds(server.process.pid) - cpu) / (time.perf_counter() - wall)
                cpu_ms = busy_share / result.rate * 1000 if result.latencies else 0.0
                if result.latencies:
                    results[what].append((result, cpu_ms))
                print("  " + line(result, cpu_ms), flush=True)
        print("ranges over the runs:")
        for what, runs in results.items():

            def span(values: list[float], form: str = ".0f") -> str:
                return f"{min(values):{form}}–{max(values):{form}}"

            measured = [r for r, _ in runs]
            if not measured:
                continue
            print(
                f"  {what:<24}{span([r.rate for r in measured], ',.1f')} req/s"
                f"   p50 {span([r.percentile(50) for r in measured])}"
                f"   p95 {span([r.percentile(95) for r in measured])}"
                f"   p99 {span([r.percentile(99) for r in measured])} ms"
                f"   CPU {span([c for _, c in runs], '.1f')} ms/req"
            )
    finally:
        server.stop()
        revoke_key(rt.uow(), SystemClock(), name=name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
