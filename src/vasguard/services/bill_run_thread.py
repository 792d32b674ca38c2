"""A bill run started on request (the API, the console): run off the request, in a thread.

The request waits only until the run's record is committed, or the run is refused (a
period not begun, a period another run holds), then answers with the run, whose progress
its record shows. A process that stops mid-run leaves the run ``running`` with its
cursor; starting it again resumes or supersedes it (``services/billing.py``). A sharded
deployment starts a run on every shard (``start_bill_runs``), each as on a single database.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping

from vasguard.domain.charging import BillRun
from vasguard.domain.clock import Clock
from vasguard.domain.events import Cause
from vasguard.services.billing import run_bill
from vasguard.services.deployment import Deployment
from vasguard.services.shards import on_every_shard, results
from vasguard.services.unit_of_work import UnitOfWork

_log = logging.getLogger(__name__)


class _Launch:
    """What the run's thread tells the request: its record once committed, or why it did
    not start. Told once; what goes wrong later is logged, the record stays resumable."""

    def __init__(self) -> None:
        self.answer: queue.SimpleQueue[BillRun | Exception] = queue.SimpleQueue()
        self.told = False

    def tell(self, outcome: BillRun | Exception) -> None:
        self.told = True
        self.answer.put(outcome)


def start_bill_run(
    new_uow: Callable[[], UnitOfWork],
    clock: Clock,
    deployment: Deployment,
    period: str,
    *,
    cause: Cause,
) -> BillRun:
    """Run the bill of ``period`` in a thread named ``bill-run-{period}``; the run once
    started, or the refusal raised here (nothing written)."""
    launch = _Launch()

    def work() -> None:
        try:
            run_bill(
                new_uow(),
                clock,
                deployment,
                period,
                wall_clock=clock,
                cause=cause,
                started=launch.tell,
            )
        except Exception as failed:  # the request hears of it, or the log does
            if not launch.told:
                launch.tell(failed)
                return
            _log.exception("bill run of %s stopped; start it again to resume it", period)

    threading.Thread(target=work, name=f"bill-run-{period}", daemon=True).start()
    outcome = launch.answer.get()
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def start_bill_runs(
    shards: Mapping[str, Callable[[], UnitOfWork]],
    clock: Clock,
    deployment: Deployment,
    period: str,
    *,
    cause: Cause,
    parallel: int,
) -> list[BillRun]:
    """``start_bill_run`` on every shard, in the shards' order; a refusal on one (another
    run holds its period) is raised once every shard has answered, and the runs that did
    start go on: starting again resumes them and retries the refused one."""
    started = on_every_shard(
        shards,
        lambda _, new_uow: start_bill_run(new_uow, clock, deployment, period, cause=cause),
        parallel=parallel,
    )
    return results(started)
