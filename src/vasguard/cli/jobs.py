"""``vasguard jobs``: the batch jobs, each run for a given time (``--at``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from vasguard.cli.console import (
    AtOption,
    JsonOption,
    PeriodOption,
    emit,
    emit_shards,
    on_shards,
    out,
    progress_bar,
    runtime,
    sub_app,
)
from vasguard.domain.events import Cause, CauseKind
from vasguard.services.shards import UowFactory

app = sub_app("Batch jobs, each run for a given time (--at).")


@app.command("expire")
def jobs_expire(at: AtOption = None, as_json: JsonOption = False) -> None:
    """Expire orders left unconfirmed past their window."""
    from vasguard.services.orders import expire_orders

    rt = runtime()
    cause, clock = Cause(CauseKind.JOB, "expire"), rt.clock(at)
    if rt.shard_map.configured:
        done = on_shards(rt, lambda _n, new_uow: expire_orders(new_uow(), clock, cause=cause))
        emit_shards(as_json, "orders expired", done, lambda n: {"expired": n})
        return
    count = expire_orders(rt.uow(), clock, cause=cause)
    emit(as_json, {"expired": count}, lambda: out.print(f"{count} orders expired"))


@app.command("bill")
def jobs_bill(
    period: PeriodOption,
    at: AtOption = None,
    chunk: Annotated[int, typer.Option(min=1, help="subscriber ids per transaction")] = 20_000,
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate", help="allow a period or --at later than now (demos, rehearsals)"
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Charge a period: first charges now due, renewals and plan fees; safe to re-run."""
    from rich.table import Table

    from vasguard.domain.clock import SystemClock
    from vasguard.domain.money import yuan
    from vasguard.services.billing import BillRunSummary, run_bill

    rt = runtime()
    if rt.shard_map.configured:
        clock = rt.clock(at)

        def bill_shard(_name: str, new_uow: UowFactory) -> BillRunSummary:
            return run_bill(
                new_uow(),
                clock,
                rt.deployment,
                str(period),
                wall_clock=SystemClock(),
                chunk=chunk,
                simulate=simulate,
            )

        emit_shards(
            as_json,
            f"bill run, period {period}",
            on_shards(rt, bill_shard),
            lambda s: {
                "run": s.run_id,
                "resumed": s.resumed,
                "charged": s.total_charged,
                "amount": yuan(s.total_fen),
            },
        )
        return
    with progress_bar() as bar:
        task = bar.add_task(f"bill run {period}", total=None)
        summary = run_bill(
            rt.uow(),
            rt.clock(at),
            rt.deployment,
            str(period),
            wall_clock=SystemClock(),
            chunk=chunk,
            simulate=simulate,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )

    def human() -> None:
        resumed = " (resumed)" if summary.resumed else ""
        table = Table(title=f"bill run {summary.run_id}, period {summary.period}{resumed}")
        table.add_column("outcome")
        table.add_column("count", justify="right")
        table.add_column("amount", justify="right")
        for kind, count in sorted(summary.charged.items()):
            table.add_row(f"charged: {kind}", f"{count:,}", yuan(summary.charged_fen[kind]))
        table.add_row("charged: total", f"{summary.total_charged:,}", yuan(summary.total_fen))
        for reason, count in sorted(summary.skipped.items()):
            table.add_row(f"skipped: {reason}", f"{count:,}", "")
        out.print(table)
        for line in summary.exempt:
            out.print(
                f"charged without reminder (exempt): service {line.service} "
                f"({line.reason}): {line.charges:,} charges, {yuan(line.fen)}"
            )

    emit(as_json, summary, human)


@app.command("reminders")
def jobs_reminders(at: AtOption = None, as_json: JsonOption = False) -> None:
    """Queue due charge reminders and plan notices inside the sending window, then send them."""
    from rich.table import Table

    from vasguard.services.reminders import run_reminders

    rt = runtime()
    clock = rt.clock(at)
    if rt.shard_map.configured:
        done = on_shards(rt, lambda _n, new_uow: run_reminders(new_uow(), clock, rt.deployment))
        rt.deliver(clock)
        emit_shards(
            as_json,
            f"reminder job at {clock.now().isoformat()}",
            done,
            lambda r: {"queued": r.queued, "waiting": r.waiting_outside_window},
        )
        return
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=None)
            bar.update(tasks[stage], completed=done)

        result = run_reminders(rt.uow(), clock, rt.deployment, progress=report)
    sent = rt.deliver(clock)

    def human() -> None:
        table = Table(title=f"reminder job at {result.at.isoformat()}")
        table.add_column("notice")
        table.add_column("queued", justify="right")
        table.add_column("waiting for the window", justify="right")
        table.add_row("charge reminders", str(result.queued), str(result.waiting_outside_window))
        table.add_row(
            "plan takes effect", str(result.plan_notices_queued), str(result.plan_notices_waiting)
        )
        out.print(table)
        if result.zones_outside_window:
            out.print(f"outside the sending window in: {', '.join(result.zones_outside_window)}")
        if rt.settings.smpp_host is None:
            out.print(f"{sent} messages sent through the loopback SMSC")
        else:
            out.print("messages queued for the SMSC: `vasguard serve` sends them")
        exempt = Table(title="reminder-exempt services with active subscriptions")
        for column in ("code", "service", "provider", "reason", "subscriptions"):
            exempt.add_column(column, justify="right" if column == "subscriptions" else "left")
        for e in result.exempt:
            exempt.add_row(e.code, e.name, e.provider, e.reason, str(e.subscriptions))
        out.print(exempt)

    emit(as_json, {**asdict(result), "sent": sent}, human)


@app.command("figures")
def jobs_figures(
    at: AtOption = None,
    days: Annotated[
        int | None,
        typer.Option(
            min=1, max=400, help="local days to recount, today's included (default: the setting)"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recount the dashboard's and the scorecards' daily figures of the last days."""
    from vasguard.services.figures import recount_figures

    rt = runtime()
    span, clock = days or rt.settings.figures_days, rt.clock(at)
    if rt.shard_map.configured:
        outcomes = on_shards(
            rt, lambda _n, new_uow: recount_figures(new_uow(), clock, rt.deployment, span)
        )
        emit_shards(
            as_json,
            "figures recounted",
            outcomes,
            lambda r: {"first_day": r.days.first.isoformat(), "rows": r.rows},
        )
        return
    done = recount_figures(rt.uow(), clock, rt.deployment, span)
    first, last = done.days.first.isoformat(), done.days.last.isoformat()
    emit(
        as_json,
        {"first_day": first, "last_day": last, "rows": done.rows},
        lambda: out.print(f"figures of {first} to {last} recounted: {done.rows} rows"),
    )
