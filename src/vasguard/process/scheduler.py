"""The scheduler: runs each job when it is due, one holder per job across all processes.

A ``Job`` says when it is first due (given the instant the process starts), what it does
(synchronous database work, run in a thread so the event loop keeps serving HTTP and
SMPP) and when it is next due after a run. Every run is:

- guarded by the job's named lock (``job-<name>``): if another process holds it, the run
  is *skipped* and tried again a tick later;
- timed into ``JOB_SECONDS`` and counted in ``JOBS`` by result (``ok``, ``refused``,
  ``failed``, ``skipped``, ``interrupted``);
- contained: a job that raises is logged and retried a tick later; the process goes on.

Time comes only from the injected ``Clock``: the loop sleeps until the earliest job is
due by that clock (at most one tick, so a clock that jumps is noticed), and tests drive
``run_due`` with a fixed clock instead of the loop. Jobs run side by side, so an hour of
bill run does not hold back the reminders of a window that opens meanwhile.

Stopping is cooperative: ``stop()`` makes the next ``checkpoint()`` a job calls (after each
committed chunk) raise ``Stopping``, so a job ends between chunks, never inside one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from vasguard.channels.metrics import JOB_SECONDS, JOBS
from vasguard.domain.clock import Clock
from vasguard.domain.refusals import Refused

log = logging.getLogger("vasguard.scheduler")

Checkpoint = Callable[[], None]
"""Called by a job after each committed chunk; raises ``Stopping`` once a stop is asked."""

Work = Callable[[datetime, Checkpoint], Mapping[str, object]]
"""A job's work at an instant; returns what it did, for the log line."""

Hold = Callable[[str], AbstractContextManager[bool]]
"""Takes a named lock for a block, yielding whether it was free (``store.locks.holding``)."""


class Stopping(Exception):
    """The process is stopping: the job ends after the chunk it has committed."""


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    work: Work
    first_at: Callable[[datetime], datetime]
    """When the job is first due, given the instant the scheduler starts."""
    next_at: Callable[[datetime], datetime]
    """When the job is next due after a run that began at the given instant and ended well."""


class Scheduler:
    def __init__(
        self,
        jobs: Sequence[Job],
        clock: Clock,
        hold: Hold,
        *,
        tick: timedelta = timedelta(seconds=30),
    ) -> None:
        self._jobs = {job.name: job for job in jobs}
        self._clock = clock
        self._hold = hold
        self._tick = tick
        start = clock.now()
        self._due = {job.name: job.first_at(start) for job in jobs}
        self._running: dict[str, asyncio.Task[str]] = {}
        self._stopping = threading.Event()  # read by the jobs' threads
        self._wake = asyncio.Event()

    def due_at(self, name: str) -> datetime:
        """When the job is next due (for tests and the log)."""
        return self._due[name]

    def start_due(self) -> list[asyncio.Task[str]]:
        """Start every job that is due and not already running; their tasks give the result."""
        now = self._clock.now()
        started = []
        for name, job in self._jobs.items():
            if self._stopping.is_set():
                break
            if name in self._running or self._due[name] > now:
                continue
            task = asyncio.create_task(self._run(job, now), name=f"job-{name}")
            self._running[name] = task
            task.add_done_callback(self._finished)
            started.append(task)
        return started

    async def run_due(self) -> dict[str, str]:
        """Start what is due and wait for it: each job's result, by name."""
        tasks = self.start_due()
        results = await asyncio.gather(*tasks)
        return {
            task.get_name().removeprefix("job-"): r for task, r in zip(tasks, results, strict=True)
        }

    async def run(self) -> None:
        """Run jobs as they fall due until ``stop()``; then wait for those running to end."""
        log.info(
            "scheduler started",
            extra={"jobs": {n: d.isoformat() for n, d in sorted(self._due.items())}},
        )
        while not self._stopping.is_set():
            self.start_due()
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_seconds())
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        log.info("scheduler stopped")

    def stop(self) -> None:
        """Start no more jobs; those running end at their next checkpoint."""
        self._stopping.set()
        self._wake.set()

    def _sleep_seconds(self) -> float:
        now = self._clock.now()
        waiting = [d for n, d in self._due.items() if n not in self._running]
        until = min(waiting, default=now + self._tick) - now
        return max(0.0, min(until, self._tick).total_seconds())

    def _finished(self, task: asyncio.Task[str]) -> None:
        self._running.pop(task.get_name().removeprefix("job-"), None)
        self._wake.set()  # a job that ended may be due again at once (a retry)

    async def _run(self, job: Job, now: datetime) -> str:
        result, next_at = await asyncio.to_thread(self._run_held, job, now)
        self._due[job.name] = next_at
        return result

    def _run_held(self, job: Job, now: datetime) -> tuple[str, datetime]:
        """One run in the job's thread: under its lock, timed, counted and logged once.

        Whatever goes wrong — the job, or taking its lock (a database that is down) — is a
        ``failed`` run retried a tick later, never a tight loop of retries.
        """
        began = time.perf_counter()
        failure: Exception | None = None
        try:
            with self._hold(f"job-{job.name}") as free:
                if free:
                    result, facts, next_at = self._attempt(job, now)
                else:
                    result, facts, next_at = "skipped", {"held_by": "another process"}, None
        except Exception as failed:  # a job never takes the process down
            result, facts, next_at, failure = "failed", {"error": repr(failed)}, None, failed
        next_at = next_at or now + self._tick
        seconds = time.perf_counter() - began
        if result != "skipped":
            JOB_SECONDS.labels(job.name).observe(seconds)
        JOBS.labels(job.name, result).inc()
        log.log(
            logging.ERROR if failure else logging.INFO,
            f"job {job.name}: {result}" + ("; retried at the next tick" if failure else ""),
            exc_info=failure,
            extra={
                "job": job.name,
                "result": result,
                "seconds": round(seconds, 3),
                "next_at": next_at.isoformat(),
                **facts,
            },
        )
        return result, next_at

    def _attempt(
        self, job: Job, now: datetime
    ) -> tuple[str, Mapping[str, object], datetime | None]:
        """The job's work and its outcome; ``None``: due again a tick later."""
        try:
            facts = job.work(now, self._checkpoint)
        except Stopping:
            return "interrupted", {}, now  # due again as soon as a process runs it
        except Refused as refused:
            return "refused", {"code": refused.code, "detail": str(refused)}, None
        return "ok", facts, job.next_at(now)

    def _checkpoint(self) -> None:
        if self._stopping.is_set():
            raise Stopping
