"""Benchmark the SMS dialogue over SMPP: `0000`-then-`1` round trips per second on loopback.

The platform side is the real ``SmppEngine`` (binds, window, rate, the deliver_sm handler
with group commit, the outbox sender, receipts) in this process; the other side is the
npm-``smpp`` test SMSC (tests/peers/smsc.js; ``npm ci`` there first) as a subprocess,
which drives the dialogues itself (its ``dialogues`` command) and times them:

    .venv/bin/python bench/smpp_dialogue.py                      # fresh small SQLite database
    .venv/bin/python bench/smpp_dialogue.py --reuse \\
        --database-url sqlite:////work/benchdata/vg-1m-after.db --dialogues 10000
    .venv/bin/python bench/smpp_dialogue.py --reuse \\
        --database-url postgresql://postgres@127.0.0.1:5432/vg_bench_after

A dialogue: the SMSC sends `0000` from a subscriber holding a monthly service, waits until
every part of the listing MT has been submitted to it, sends `1` to the listing sub-port,
and waits for the cancellation MT. ``--concurrency`` dialogues are in flight at once, so
several MOs arrive per deliver batch (one ``receive_mos`` call, one group commit).
Latency is the SMSC's: deliver_sm written -> the reply's last submit_sm read, for each of
the two round trips and for the whole dialogue. CPU per dialogue is this process's user +
system time (every thread: the event loop and the database threads); the SMSC's node CPU
is given separately. Every submit_sm asks for a receipt and the SMSC sends one 20 ms later
(``--no-receipts`` to leave them out), as a real SMSC does.

Replies queued and due before the run (``bench/dialogue.py`` leaves every reply queued: it
has no sender) would be sent first and delay this run's; they are marked sent through a
plain UPDATE before the run (their pending parts failed as BENCH_DRAINED), and the count
is printed.

``--py-spy FILE`` samples this process with py-spy (``pip install py-spy``) for the first
``--py-spy-seconds`` of the measured run (keep the run longer) and prints where its CPU
goes, by layer (SMPP codec, SMPP session and event loop, dialogue, outbox, database) and by
activity (MOs, receipts, outbox claim and settle, event loop). On PostgreSQL, psycopg
waiting for the server is counted as driver time (py-spy cannot tell it from running).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from dialogue import AT, cancelled_by_listing, pick_subscribers  # bench/dialogue.py
from sqlalchemy import Engine, func, select, update

import vasguard.channels.smpp.deliveries as deliveries_module
import vasguard.channels.sms.sender as sender_module
from vasguard.channels.smpp import SmppConfig
from vasguard.channels.smpp.engine import SmppEngine
from vasguard.domain.mo_ids import DEFAULT_WINDOW
from vasguard.generate import generate
from vasguard.services.deployment import Deployment
from vasguard.store import tables
from vasguard.store.engine import Checkpointer, open_engine
from vasguard.store.migrate import upgrade
from vasguard.store.uow import SqlUnitOfWork

PEERS = Path(__file__).resolve().parent.parent / "tests" / "peers"
SYSTEM_ID = PASSWORD = "bench"


class RunningClock:
    """Wall time shifted to start at ``start``: leases, back-off and timers run."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


class Smsc:
    """The node test SMSC: commands on stdin, events read by a thread from stdout."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (PEERS / "node_modules" / "smpp").is_dir():
            raise SystemExit(f"needs Node.js and `npm ci` in {PEERS}")
        self.process = subprocess.Popen(
            [node, "smsc.js", "--port", "0", "--system-id", SYSTEM_ID, "--password", PASSWORD],
            cwd=PEERS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = int(self.wait_event("listening", 10)["port"])
        self.cpu = psutil.Process(self.process.pid)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._events.append(json.loads(line))

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()

    def find(self, name: str, **match: Any) -> dict[str, Any] | None:
        with self._lock:
            for event in self._events:
                if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                    return event
        return None

    def wait_event(self, name: str, timeout: float, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (event := self.find(name, **match)) is None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"the SMSC sent no {name} event within {timeout} s")
            time.sleep(0.01)
        return event

    async def dialogues(
        self, numbers: list[str], label: str, concurrency: int, timeout: float
    ) -> dict[str, Any]:
        self.send(
            "dialogues",
            numbers=numbers,
            label=label,
            concurrency=concurrency,
            service="10086",
            reply_to=Deployment().listing_port,
            timeout_ms=int(timeout * 1000),
        )
        deadline = time.monotonic() + timeout + 10
        while (done := self.find("dialogues_done", label=label)) is None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"the SMSC did not finish the dialogues {label}")
            await asyncio.sleep(0.05)
        return done

    def cpu_seconds(self) -> float:
        times = self.cpu.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.send("stop")
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=3)


def drain_backlog(engine: Engine, clock: RunningClock) -> tuple[int, float]:
    """Mark sent every MT queued and due before the run (and fail its pending parts, if an
    earlier run had cut it); how many, and in what time. Plain SQL, not the outbox: these
    are leftovers of bench/dialogue.py, and sending 200,000 of them through the sender
    first would take minutes (about 170 MTs/s on PostgreSQL with a null transport)."""
    m, p = tables.messages.c, tables.message_parts.c
    at = clock.now()
    due = (m.direction == "mt") & (m.status == "queued") & (m.send_after <= at)
    began = time.perf_counter()
    with engine.begin() as conn:
        queued = conn.scalar(select(func.count()).select_from(tables.messages).where(due)) or 0
        if queued:
            print(f"backlog      {queued:,} MTs queued before the run; marking them sent")
        conn.execute(
            update(tables.message_parts)
            .where(p.state.in_(["queued", "claimed"]), p.next_attempt_at <= at)
            .values(state="failed", error="BENCH_DRAINED", settled_at=at)
        )
        conn.execute(update(tables.messages).where(due).values(status="sent", sent_at=at))
    return queued, time.perf_counter() - began


def new_engine(
    engine: Engine, clock: RunningClock, port: int, args: argparse.Namespace, owner: str
) -> SmppEngine:
    config = SmppConfig(
        host="127.0.0.1",
        port=port,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        binds=args.binds,
        window=args.window,
        submit_rate=args.submit_rate,
        submit_burst=max(1, int(args.submit_rate or 1) // 100),
        deliver_batch=args.deliver_batch,
        response_timeout=30.0,
        enquire_link_interval=60.0,
        message_payload=args.message_payload,
    )
    return SmppEngine(
        lambda: SqlUnitOfWork(engine),
        clock,
        Deployment(),
        config,
        owner=owner,
        interval=args.interval,
    )


class Sampler:
    """py-spy recording this process (raw collapsed stacks) while the run lasts."""

    def __init__(self, path: str, rate: int, seconds: float) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            raise SystemExit("py-spy is not installed: pip install py-spy")
        self.path = path
        self.process = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(os.getpid()), "--rate", str(rate)),
                *("--duration", str(max(1, int(seconds))), "--format", "raw", "--output", path),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait(self) -> None:
        """Until py-spy has written its file (it stops after its duration)."""
        deadline = time.monotonic() + 60
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                return
            await asyncio.sleep(0.2)


_CATEGORIES: list[tuple[str, Callable[[str, str], bool]]] = [
    ("database: driver (sqlite3 / psycopg)", lambda f, fn: "/psycopg" in f or "sqlite3" in f),
    (
        "database: driver call (execute / commit)",
        lambda f, fn: (
            f.endswith("sqlalchemy/engine/default.py")
            and fn.rsplit(".", 1)[-1].startswith(("do_execute", "do_commit", "do_begin"))
        ),
    ),
    ("database: SQLAlchemy", lambda f, fn: "/sqlalchemy/" in f),
    ("database: vasguard.store", lambda f, fn: "/vasguard/store/" in f),
    (
        "SMPP codec (smpp.pdu3 + codec, pdus)",
        lambda f, fn: (
            "/smpp/pdu/" in f or f.endswith(("channels/smpp/codec.py", "channels/smpp/pdus.py"))
        ),
    ),
    ("SMPP text (GSM-7 / UCS-2)", lambda f, fn: f.endswith("channels/smpp/text.py")),
    (
        "MO intake handler (deliveries, mo)",
        lambda f, fn: f.endswith(("channels/smpp/deliveries.py", "channels/smpp/mo.py")),
    ),
    (
        "outbox sender (sender, engine, services.outbox)",
        lambda f, fn: f.endswith(
            ("channels/sms/sender.py", "channels/smpp/engine.py", "services/outbox.py")
        ),
    ),
    (
        "SMPP session (link, session, framing, pool, rate)",
        lambda f, fn: "/vasguard/channels/smpp/" in f,
    ),
    ("dialogue (services, domain)", lambda f, fn: "/vasguard/services/" in f),
    ("dialogue (services, domain)", lambda f, fn: "/vasguard/domain/" in f),
    ("metrics (prometheus_client)", lambda f, fn: "prometheus_client" in f),
    ("threads (to_thread hand-off)", lambda f, fn: "concurrent/futures" in f or "threading" in f),
    ("event loop, streams, sockets (asyncio)", lambda f, fn: "/asyncio/" in f),
]


def _frame(text: str) -> tuple[str, str]:
    """'func (path:line)' -> ('/path', func); py-spy gives paths from sys.path entries."""
    name, _, rest = text.rpartition(" (")
    return "/" + rest.rsplit(":", 1)[0].lstrip("/"), name


_IDLE = (
    ("/selectors.py", "select"),  # the event loop waiting for the sockets
    ("/concurrent/futures/thread.py", "_worker"),  # a pool thread waiting for work
    ("/threading.py", "wait"),
)


def _idle(leaf: str) -> bool:
    file, name = _frame(leaf)
    if file.endswith("vasguard/store/uow.py") and name.endswith("__enter__"):
        return True  # waiting for the SQLite writer lock (store.engine.one_writer)
    if any(file.endswith(f) and name.endswith(n) for f, n in _IDLE):
        return not leaf.endswith("thread.py:83)")  # line 83 runs the work item
    return False


_ACTIVITIES = (
    ("record_receipts", "receipts (record_receipts)"),
    ("receive_mos", "MOs: the dialogue (receive_mos)"),
    ("keep_fragments", "MOs: fragments"),
    ("claim", "outbox: claim"),
    ("settle", "outbox: settle"),
    ("outbox_depth", "outbox: depth metric"),
)


def activities(path: str) -> Counter[str]:
    """Samples by what the thread was doing: the first known call from the root."""
    counts: Counter[str] = Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or _idle(stack.split(";")[-1]):
            continue
        activity = "event loop: SMPP I/O, codec, session, tasks"
        for frame in stack.split(";"):
            name = _frame(frame)[1].rsplit(".", 1)[-1]
            found = next((a for key, a in _ACTIVITIES if name == key), None)
            if found is not None:
                activity = found
                break
        counts[activity] += int(number)
    return counts


def split(path: str) -> tuple[Counter[str], int]:
    """Samples by category: the category of the frame nearest the leaf that has one.
    Samples of a thread waiting (the loop in select, a pool thread for work) are left out:
    py-spy with --nonblocking does not always tell them from running."""
    counts: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or _idle(stack.split(";")[-1]):
            continue
        samples = int(number)
        total += samples
        category = "other (stdlib, json, logging, ...)"
        for frame in reversed(stack.split(";")):
            file, name = _frame(frame)
            found = next((c for c, test in _CATEGORIES if test(file, name)), None)
            if found is not None:
                category = found
                break
        counts[category] += samples
    return counts, total


class ThreadCpu:
    """CPU time of the calling thread (``time.thread_time``: waits for the GIL, the disk or
    the server are not counted) inside the database jobs of the engine, by activity; the
    rest of the process's CPU is the event loop's. Wraps the functions the engine's
    modules call, for this process only."""

    JOBS = (
        ("MOs' transactions (receive_routed)", deliveries_module, "receive_routed"),
        ("receipts (record_on_shards)", deliveries_module, "record_on_shards"),
        ("outbox claim", sender_module, "claim"),
        ("outbox settle", sender_module, "settle"),
        ("outbox depth", sender_module, "outbox_depth"),
    )

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.measuring = False
        self._lock = threading.Lock()
        for label, module, name in self.JOBS:
            setattr(module, name, self._timed(label, getattr(module, name)))

    def _timed(self, label: str, job: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return job(*args, **kwargs)
            finally:
                if self.measuring:
                    with self._lock:
                        self.seconds[label] += time.thread_time() - started
                        self.calls[label] += 1

        return timed


async def bench(
    engine: Engine,
    smsc: Smsc,
    clock: RunningClock,
    warm: list[str],
    msisdns: list[str],
    args: argparse.Namespace,
    run_id: str,
    thread_cpu: ThreadCpu | None = None,
) -> dict[str, Any]:
    sms = new_engine(engine, clock, smsc.port, args, owner=f"bench-{run_id}")
    await sms.start()
    try:
        await sms.pool.wait_bound(10)
        warmed = await smsc.dialogues(warm, f"warm-{run_id}", args.concurrency, args.timeout)
        if warmed["unfinished"]:
            raise SystemExit(f"warm-up: {warmed['unfinished']} dialogues did not finish")
        await asyncio.sleep(0.5)  # the warm-up's receipts
        before = await asyncio.to_thread(cancelled_by_listing, engine)
        sampler = (
            Sampler(args.py_spy, args.py_spy_rate, args.py_spy_seconds) if args.py_spy else None
        )
        smsc_cpu = smsc.cpu_seconds()
        if thread_cpu is not None:
            thread_cpu.measuring = True
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter()
        done = await smsc.dialogues(msisdns, f"bench-{run_id}", args.concurrency, args.timeout)
        wall = time.perf_counter() - wall
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        if thread_cpu is not None:
            thread_cpu.measuring = False
        smsc_cpu = smsc.cpu_seconds() - smsc_cpu
        if sampler is not None:
            await sampler.wait()
        binds = [s.binds for s in sms.pool.sessions]
    finally:
        await sms.stop()
    done["esme_cpu"] = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    done["esme_user"] = cpu1.ru_utime - cpu0.ru_utime
    done["smsc_cpu"] = smsc_cpu
    done["wall"] = wall
    done["binds"] = binds
    done["cancelled"] = await asyncio.to_thread(cancelled_by_listing, engine) - before
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh temporary SQLite file")
    parser.add_argument("--subscribers", type=int, default=20_000, help="to generate")
    parser.add_argument("--reuse", action="store_true", help="the database is already generated")
    parser.add_argument("--dialogues", type=int, default=5_000)
    parser.add_argument("--warm", type=int, default=500, help="warm-up dialogues first")
    parser.add_argument("--concurrency", type=int, default=200, help="dialogues in flight")
    parser.add_argument("--seed", type=int, help="for picking subscribers (default: random)")
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--window", type=int, default=100, help="submit_sm in flight per bind")
    parser.add_argument("--submit-rate", type=float, help="submit_sm/s per bind (default: none)")
    parser.add_argument("--deliver-batch", type=int, default=64, help="deliver_sm per commit")
    parser.add_argument(
        "--interval", type=float, default=0.05, help="outbox sender's idle poll, s (serve: 0.05)"
    )
    parser.add_argument("--no-receipts", action="store_true", help="the SMSC sends no receipts")
    parser.add_argument(
        "--commit-checkpoints",
        action="store_true",
        help="SQLite: leave WAL checkpoints to the commits (serve checkpoints in a thread)",
    )
    parser.add_argument(
        "--message-payload",
        action="store_true",
        help="a long MT goes whole in message_payload (one submit_sm per MT), not UDH parts",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="per run of dialogues, s")
    parser.add_argument(
        "--thread-cpu", action="store_true", help="thread CPU inside each database job"
    )
    parser.add_argument("--py-spy", metavar="FILE", help="sample this process into FILE")
    parser.add_argument("--py-spy-rate", type=int, default=250)
    parser.add_argument(
        "--py-spy-seconds", type=float, default=8, help="from the run's start; keep it shorter"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = open_engine(url, pool_size=8)
        upgrade(engine)
        if not args.reuse:
            began = time.perf_counter()
            generate(engine, subscribers=args.subscribers, seed=args.seed or 1, at=AT)
            took = time.perf_counter() - began
            print(f"generated    {args.subscribers:,} subscribers in {took:.0f} s")
        with engine.connect() as conn:
            counts = {
                t.name: conn.scalar(select(func.count()).select_from(t))
                for t in (tables.subscribers, tables.services, tables.subscriptions)
            }
            newest = conn.scalar(select(func.max(tables.messages.c.created_at))) or AT
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4))
        picked = pick_subscribers(engine, args.dialogues + args.warm, seed)
        if len(picked) < args.dialogues + args.warm:
            raise SystemExit(f"only {len(picked)} subscribers with a monthly service")
        warm, msisdns = picked[: args.warm], picked[args.warm :]
        # A new MO-id window (ids are content digests within one) and after every message
        # stored, so an earlier run's listing is never the latest.
        clock = RunningClock(max(newest, AT) + DEFAULT_WINDOW + timedelta(minutes=1))
        drained, drain_seconds = drain_backlog(engine, clock)
        run_id = uuid.uuid4().hex[:8]
        smsc = Smsc()
        checkpoints = None if args.commit_checkpoints else Checkpointer.start_for(engine)
        try:
            settings: dict[str, Any] = {
                "record_submits": False,
                "record_pdus": False,
                "record_deliveries": False,
            }
            if args.no_receipts:
                settings["receipt_delay_ms"] = 10**9
            smsc.send("config", **settings)
            thread_cpu = ThreadCpu() if args.thread_cpu else None
            result = asyncio.run(
                bench(engine, smsc, clock, warm, msisdns, args, run_id, thread_cpu)
            )
        finally:
            smsc.stop()
            if checkpoints is not None:
                checkpoints.stop()
        engine.dispose()

    n = result["done"]
    if result["unfinished"]:
        print(
            f"WARNING      {result['unfinished']:,} dialogues did not finish ({result['reason']})"
        )
    first, second, whole = result["first_ms"], result["second_ms"], result["dialogue_ms"]
    elapsed = result["elapsed_ms"] / 1000
    print(
        f"backend      {engine.dialect.name}; {args.binds} bind(s), window {args.window}, "
        f"rate {args.submit_rate or 'unlimited'}, deliver batch {args.deliver_batch}, "
        f"sender poll {args.interval * 1000:g} ms, receipts {'off' if args.no_receipts else 'on'}, "
        f"long MTs {'whole (message_payload)' if args.message_payload else 'in UDH parts'}"
    )
    print(
        f"data         {counts['subscribers']:,} subscribers, {counts['services']:,} services, "
        f"{counts['subscriptions']:,} subscriptions"
    )
    if drained:
        print(f"drained      {drained:,} MTs queued before the run, in {drain_seconds:.1f} s")
    print(
        f"dialogues    {n:,} done of {result['dialogues']:,}, {args.concurrency} in flight "
        f"(0000 then 1; MTs to others: {result['other_mts']}); binds made {result['binds']}"
    )
    print(f"submit_sm    {result['submits'] / max(n, 1):.2f} per dialogue (listing + cancel)")
    print(f"cancelled    {result['cancelled']:,} subscriptions by the replies `1`")
    print(f"throughput   {n / elapsed:,.0f} dialogues/s ({elapsed:.2f} s)")
    for name, figures in (("0000->listing", first), ("1->cancel", second), ("dialogue", whole)):
        print(
            f"latency      {name:<14} p50 {figures['p50']:7.2f} ms  p90 {figures['p90']:7.2f} ms  "
            f"p99 {figures['p99']:7.2f} ms  max {figures['max']:7.2f} ms"
        )
    esme, smsc_cpu = result["esme_cpu"], result["smsc_cpu"]
    print(
        f"ESME CPU     {esme / n * 1000:.2f} ms per dialogue "
        f"(user {result['esme_user'] / n * 1000:.2f}; {esme / elapsed * 100:.0f}% of a core)"
    )
    print(
        f"SMSC CPU     {smsc_cpu / n * 1000:.2f} ms per dialogue (node; "
        f"{smsc_cpu / elapsed * 100:.0f}% of a core)"
    )
    print(f"peak RSS     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if thread_cpu is not None:
        print("thread CPU   ms per dialogue, inside the database jobs (the rest: the event loop)")
        for label, seconds in thread_cpu.seconds.most_common():
            calls = thread_cpu.calls[label]
            each = f"{seconds / calls * 1000:.2f} ms each" if calls else "not run"
            print(f"  {seconds / n * 1000:6.2f} ms  {label}: {calls / n:.2f} jobs ({each})")
        rest = esme - sum(thread_cpu.seconds.values())
        print(f"  {rest / n * 1000:6.2f} ms  event loop: SMPP codec and session, asyncio, the rest")
    if args.py_spy:
        counts_by, total = split(args.py_spy)
        if total:
            per = esme / n * 1e6
            print(f"where the ESME CPU goes ({total:,} samples; µs per dialogue of {per:,.0f}):")
            for category, samples in counts_by.most_common():
                print(f"  {samples / total * per:7.0f} µs  {samples / total:6.1%}  {category}")
            print("by activity:")
            for activity, samples in activities(args.py_spy).most_common():
                print(f"  {samples / total * per:7.0f} µs  {samples / total:6.1%}  {activity}")
    return 0 if not result["unfinished"] else 1


if __name__ == "__main__":
    sys.exit(main())
