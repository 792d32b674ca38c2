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

from vasguard.config import Settings
from vasguard.domain.catalogue import UnknownSubscriber
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.msisdn import InvalidMsisdn
from vasguard.domain.ordering import OrderRefused
from vasguard.domain.subscription import Channel
from vasguard.runtime import Runtime
from vasguard.store.migrate import is_initialised, upgrade

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

out = Console()
err = Console(stderr=True)

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
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one clear line and a non-zero exit."""
    try:
        yield
    except (OrderRefused, InvalidMsisdn, UnknownSubscriber, ValueError) as exc:
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
        placed = place_order(
            rt.uow(),
            rt.clock(at),
            rt.deployment,
            msisdn=msisdn,
            service_code=service,
            channel=channel,
            cause=cli_cause(),
        )

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
    from vasguard.services.dialogue import receive_mo

    rt = runtime()
    with user_errors():
        result = receive_mo(
            rt.uow(),
            rt.clock(at),
            rt.deployment,
            msisdn=sender,
            to=to or rt.deployment.service_number,
            text=text,
            smsc_message_id=message_id,
        )

    def human() -> None:
        if result.duplicate:
            out.print("[yellow]duplicate MO: already handled, no reply[/yellow]")
        for reply in result.replies:
            out.print(reply)

    emit(as_json, result, human)


@jobs_app.command("expire")
def jobs_expire(at: AtOption = None, as_json: JsonOption = False) -> None:
    """Expire orders left unconfirmed past their window."""
    from vasguard.services.orders import expire_orders

    rt = runtime()
    with user_errors():
        clock = rt.clock(at)
    count = expire_orders(rt.uow(), clock, cause=Cause(CauseKind.JOB, "expire"))
    emit(as_json, {"expired": count}, lambda: out.print(f"{count} orders expired"))


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
) -> None:
    """Run the HTTP API; an empty database is migrated and filled with demo data first."""
    import uvicorn

    from vasguard.channels.http.app import create_app
    from vasguard.generate import generate

    rt = runtime()
    fresh = not is_initialised(rt.engine)
    upgrade(rt.engine)
    if fresh:
        n = rt.settings.demo_subscribers
        err.print(f"empty database: generating demo data ({n} subscribers)…")
        generate(rt.engine, subscribers=n, seed=1, at=rt.clock().now())
    uvicorn.run(
        create_app(rt),
        host=host or rt.settings.http_host,
        port=port or rt.settings.http_port,
    )
