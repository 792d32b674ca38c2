"""The ``vasguard`` command: database, data, orders, SMS, jobs and the server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from vasguard.config import Settings
from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import InvalidMsisdn
from vasguard.domain.ordering import OrderRefused
from vasguard.domain.plans import PlanRefused
from vasguard.domain.subscription import Channel
from vasguard.runtime import Runtime
from vasguard.services.resolutions import ResolutionRefused
from vasguard.store.migrate import upgrade

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)
data_app = typer.Typer(help="Generate or load data.", no_args_is_help=True)
sms_app = typer.Typer(
    help="Talk to the service number as a subscriber would.", no_args_is_help=True
)
jobs_app = typer.Typer(help="Batch jobs, each run for a given time (--at).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(sms_app, name="sms")
app.add_typer(jobs_app, name="jobs")
plan_app = typer.Typer(help="Order or change a subscriber's plan (套餐).", no_args_is_help=True)
complaint_app = typer.Typer(help="Resolve complaints (care).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(complaint_app, name="complaint")

# No markup: texts from customers and the store are printed as they are ("[delivered]",
# "[10086]"); colour is given as styles, never parsed out of a string.
out = Console(markup=False)
err = Console(stderr=True, markup=False)

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at", help="the time to act at (ISO-8601; no offset = deployment zone); default now"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def runtime() -> Runtime:
    return Runtime(Settings())


def fail(message: str, code: int = 2) -> None:
    err.print(Text.assemble(("error:", "red"), f" {message}"))
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one clear line and a non-zero exit."""
    try:
        yield
    except (
        OrderRefused,
        PlanRefused,
        ResolutionRefused,
        InvalidMsisdn,
        UnknownSubscriber,
        ValueError,
    ) as exc:
        fail(str(exc))


def emit(as_json: bool, payload: Any, human: Callable[[], None]) -> None:
    if as_json:
        if is_dataclass(payload) and not isinstance(payload, type):
            payload = asdict(payload)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n")
    else:
        human()


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def cli_cause() -> Cause:
    return Cause(CauseKind.CLI, "vasguard-cli")


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema or migrate it to the newest revision."""
    rt = runtime()
    upgrade(rt.engine)
    out.print(f"database at {rt.engine.url.render_as_string()} is up to date")


@data_app.command("generate")
def data_generate(
    subscribers: Annotated[int, typer.Option(min=0, help="how many subscribers")] = 10_000,
    seed: Annotated[int, typer.Option(help="same seed, same data")] = 1,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fill an empty database with a realistic operator: catalogue, subscribers, history."""
    from vasguard.generate import GenerationError, generate

    rt = runtime()
    upgrade(rt.engine)
    with user_errors():
        when = rt.clock(at).now()
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            summary = generate(
                rt.engine, subscribers=subscribers, seed=seed, at=when, progress=report
            )
        except GenerationError as exc:
            fail(str(exc))
    emit(as_json, summary, lambda: out.print(summary))


@app.command("order")
def order(
    msisdn: Annotated[str, typer.Option(help="the subscriber's number")],
    service: Annotated[str, typer.Option(help="the service code")],
    channel: Annotated[Channel, typer.Option(help="where the order came from")] = Channel.CARE,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Place an order; the subscriber must confirm it by SMS before it counts."""
    from vasguard.services.orders import place_order

    rt = runtime()
    with user_errors():
        clock = rt.clock(at)
        placed = place_order(
            rt.uow(),
            clock,
            rt.deployment,
            msisdn=msisdn,
            service_code=service,
            channel=channel,
            cause=cli_cause(),
        )
    rt.deliver(clock)

    def human() -> None:
        out.print(
            f"order {placed.subscription_id} pending confirmation until "
            f"{placed.confirm_by.isoformat()}; sent to {placed.msisdn}:"
        )
        out.print(f"  {placed.request_text}")

    emit(as_json, placed, human)


@sms_app.command("send")
def sms_send(
    text: Annotated[str, typer.Argument(help="the message text")],
    sender: Annotated[str, typer.Option("--from", help="the subscriber's number")],
    to: Annotated[str | None, typer.Option("--to", help="default: the service number")] = None,
    message_id: Annotated[str | None, typer.Option("--id", help="the SMSC's MO id")] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send an MO to the service number and print every reply."""
    from vasguard.services.intake import receive_mo

    rt = runtime()
    with user_errors():
        clock = rt.clock(at)
        result = receive_mo(
            rt.uow(),
            clock,
            rt.deployment,
            msisdn=sender,
            to=to or rt.deployment.service_number,
            text=text,
            smsc_message_id=message_id,
        )
    rt.deliver(clock)

    def human() -> None:
        if result.duplicate:
            out.print("duplicate MO: already handled, no reply", style="yellow")
        for reply in result.replies:
            out.print(reply)

    emit(as_json, result, human)


@sms_app.command("inbox")
def sms_inbox(
    msisdn: Annotated[str, typer.Option(help="the subscriber's number")],
    last: Annotated[int, typer.Option(min=1, help="how many messages")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show a subscriber's latest messages, both ways, with their delivery state."""
    from vasguard.services.messaging import conversation

    rt = runtime()
    with user_errors():
        rows = conversation(rt.uow(), msisdn=msisdn, last=last)

    def human() -> None:
        for row in rows:
            arrow = "→" if row.direction == "mo" else "←"
            out.print(f"{row.at.isoformat()} {arrow} {row.peer} [{row.status}] {row.text}")

    emit(as_json, [asdict(r) for r in rows], human)


@jobs_app.command("expire")
def jobs_expire(at: AtOption = None, as_json: JsonOption = False) -> None:
    """Expire orders left unconfirmed past their window."""
    from vasguard.services.orders import expire_orders

    rt = runtime()
    with user_errors():
        clock = rt.clock(at)
    count = expire_orders(rt.uow(), clock, cause=Cause(CauseKind.JOB, "expire"))
    emit(as_json, {"expired": count}, lambda: out.print(f"{count} orders expired"))


@jobs_app.command("bill")
def jobs_bill(
    period: Annotated[str, typer.Option(help="the billing period, YYYY-MM")],
    at: AtOption = None,
    chunk: Annotated[int, typer.Option(min=1, help="subscriber ids per transaction")] = 20_000,
    as_json: JsonOption = False,
) -> None:
    """Charge a period: first charges now due, renewals and plan fees; safe to re-run."""
    from rich.table import Table

    from vasguard.domain.clock import SystemClock
    from vasguard.domain.money import yuan
    from vasguard.services.billing import run_bill

    rt = runtime()
    with user_errors(), progress_bar() as bar:
        task = bar.add_task(f"bill run {period}", total=None)
        summary = run_bill(
            rt.uow(),
            rt.clock(at),
            rt.deployment,
            period,
            wall_clock=SystemClock(),
            chunk=chunk,
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
                f"charged without reminder (exempt): service {line['service']} "
                f"({line['reason']}): {line['charges']:,} charges, {yuan(line['fen'])}"
            )

    emit(as_json, summary, human)


@app.command("audit")
def audit(
    period: Annotated[str, typer.Option(help="the billing period, YYYY-MM")],
    as_json: JsonOption = False,
) -> None:
    """Re-check every charge of a period against the invariants; exit 1 on any violation."""
    from vasguard.services.audit import audit_period

    rt = runtime()
    with user_errors():
        report = audit_period(rt.uow(), rt.deployment, period)

    def human() -> None:
        for v in report.violations:
            out.print(Text.assemble(f"charge {v.charge_id}: ", (v.rule, "red"), f" {v.detail}"))
        out.print(
            f"period {report.period}: {report.charges:,} charges checked, "
            f"{report.violation_count:,} violations"
        )

    emit(as_json, report, human)
    if report.violation_count:
        raise typer.Exit(1)


@jobs_app.command("reminders")
def jobs_reminders(at: AtOption = None, as_json: JsonOption = False) -> None:
    """Queue due charge reminders and plan notices inside the sending window, then send them."""
    from rich.table import Table

    from vasguard.channels.sms.loopback import LoopbackSmsc
    from vasguard.services.outbox import flush, record_receipt
    from vasguard.services.reminders import run_reminders

    rt = runtime()
    with user_errors():
        clock = rt.clock(at)
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=None)
            bar.update(tasks[stage], completed=done)

        result = run_reminders(rt.uow(), clock, rt.deployment, progress=report)
    smsc = LoopbackSmsc()
    sent = flush(rt.uow(), clock, smsc)
    for receipt in smsc.receipts(clock.now()):
        record_receipt(rt.uow(), receipt)

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
        out.print(f"{sent} messages sent through the loopback SMSC")
        exempt = Table(title="reminder-exempt services with active subscriptions")
        for column in ("code", "service", "provider", "reason", "subscriptions"):
            exempt.add_column(column, justify="right" if column == "subscriptions" else "left")
        for e in result.exempt:
            exempt.add_row(e.code, e.name, e.provider, e.reason, str(e.subscriptions))
        out.print(exempt)

    emit(as_json, {**asdict(result), "sent": sent}, human)


@plan_app.command("order")
def plan_order(
    msisdn: Annotated[str, typer.Option(help="the subscriber's number")],
    plan: Annotated[str, typer.Option(help="the plan code")],
    channel: Annotated[Channel, typer.Option(help="where the order came from")] = Channel.CARE,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Order a plan, or change to it, from the 1st of next month; the subscriber is told."""
    from vasguard.services.plans import order_plan

    rt = runtime()
    with user_errors():
        ordered = order_plan(
            rt.uow(),
            rt.clock(at),
            rt.deployment,
            msisdn=msisdn,
            plan_code=plan,
            channel=channel,
            cause=cli_cause(),
        )

    def human() -> None:
        verb = "changed to" if ordered.changed else "ordered"
        out.print(
            f"{ordered.msisdn} {verb} plan {ordered.plan_code} from {ordered.effective_date}; "
            f"notice queued for {ordered.notice_send_after.isoformat()}:"
        )
        out.print(f"  {ordered.notice_text}")

    emit(as_json, ordered, human)


@complaint_app.command("resolve")
def complaint_resolve(
    ticket: Annotated[str, typer.Option(help="the complaint's ticket")],
    refund: Annotated[
        bool, typer.Option("--refund/--no-refund", help="refund the charges it covers")
    ] = False,
    note: Annotated[str | None, typer.Option(help="the resolution, as recorded")] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an open complaint, with or without refunding the charges it covers."""
    from vasguard.services.resolutions import resolve_complaint

    rt = runtime()
    clock = rt.clock(at)
    with user_errors():
        resolution = resolve_complaint(
            rt.uow(),
            clock,
            rt.deployment,
            ticket=ticket,
            refund=refund,
            cause=cli_cause(),
            note=note,
        )
    rt.deliver(clock)

    def human() -> None:
        out.print(f"complaint {resolution.ticket} {resolution.resolution}")
        for r in resolution.refunds:
            out.print(f"  refund {r.refund_id}: charge {r.charge_id}, {r.amount_fen} fen")

    emit(as_json, {**asdict(resolution), "refunded_fen": resolution.refunded_fen}, human)


@app.command("refund")
def refund(
    charge: Annotated[int, typer.Option(help="the charge id")],
    amount: Annotated[
        int | None, typer.Option(help="fen to refund; default the whole charge")
    ] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Refund one charge (never more than it); asking again shows the refund already made."""
    from vasguard.services.resolutions import refund_charge

    rt = runtime()
    with user_errors():
        made = refund_charge(
            rt.uow(), rt.clock(at), charge_id=charge, amount_fen=amount, cause=cli_cause()
        )

    def human() -> None:
        state = "refunded" if made.created else "already refunded"
        out.print(
            f"charge {made.charge_id} {state}: {made.amount_fen} fen (refund {made.refund_id})"
        )

    emit(as_json, made, human)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
) -> None:
    """Run the HTTP API; an empty database is migrated and filled with demo data first."""
    import uvicorn

    from vasguard.channels.http.app import create_app
    from vasguard.generate import GenerationError, generate

    rt = runtime()
    upgrade(rt.engine)
    n = rt.settings.demo_subscribers
    try:
        generate(rt.engine, subscribers=n, seed=1, at=rt.clock().now())
        err.print(f"empty database: generated a demo operator with {n} subscribers")
    except GenerationError:
        pass  # the database already holds an operator: serve it as it is
    uvicorn.run(
        create_app(rt),
        host=host or rt.settings.http_host,
        port=port or rt.settings.http_port,
    )
