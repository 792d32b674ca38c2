"""What every sub-command shares: output, the options that parse time, and the runtime.

``--at`` and ``--period`` are parsed here, once, for every command: a bad value is one
clear line and exit status 2 before the command runs. Refusals raised while a command
runs are turned into the same kind of answer by ``RefusingGroup``, in one place.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from typer._click.core import Context  # typer vendors click; its groups take this type
from typer.core import TyperGroup

from vasguard.bootstrap import Runtime
from vasguard.config import ConfigError, Settings, load_settings
from vasguard.domain.clock import parse_instant
from vasguard.domain.events import Cause, CauseKind
from vasguard.domain.periods import Period
from vasguard.domain.refusals import Refused
from vasguard.services.shards import ShardOutcome, UowFactory, on_every_shard

T = TypeVar("T")

# No markup: texts from customers and the store are printed as they are ("[delivered]",
# "[10086]"); colour is given as styles, never parsed out of a string.
out = Console(markup=False)
err = Console(stderr=True, markup=False)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(Text.assemble(("error:", "red"), f" {message}"), soft_wrap=True)  # one line
    raise typer.Exit(code)


class RefusingGroup(TyperGroup):
    """The one place a refusal becomes the CLI's answer: a line on stderr and exit 2."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except Refused as refused:
            fail(str(refused))


def settings(config: Path | None = None) -> Settings:
    """This command's settings; a bad file or value is one line and exit status 2."""
    try:
        return load_settings(config)
    except ConfigError as bad:
        fail(str(bad))


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text, settings().timezone)
    except Refused as refused:
        raise typer.BadParameter(str(refused)) from None


def _period(text: str) -> Period:
    try:
        return Period.parse(text, settings().timezone)
    except Refused as refused:
        raise typer.BadParameter(str(refused)) from None


AtOption = Annotated[
    datetime | None,
    typer.Option(
        "--at",
        parser=_instant,
        metavar="TIME",
        help="the time to act at (ISO-8601; no offset = deployment zone); default now",
    ),
]
PeriodOption = Annotated[
    Period,
    typer.Option(parser=_period, metavar="YYYY-MM", help="the billing period, e.g. 2026-11"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
MsisdnOption = Annotated[str, typer.Option(help="the subscriber's number")]


def runtime(*, check_schema: bool = True, config: Path | None = None) -> Runtime:
    """The composition root for one command; refuses a database of another schema."""
    rt = Runtime(settings(config))
    if check_schema:
        rt.check_schema()
    return rt


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


def on_shards(rt: Runtime, work: Callable[[str, UowFactory], T]) -> list[ShardOutcome[T]]:
    """``work`` on every shard of the deployment at once (``VASGUARD_SHARD_PARALLELISM``)."""
    return on_every_shard(rt.shard_uows(), work, parallel=rt.settings.shard_parallelism)


def emit_shards(
    as_json: bool,
    title: str,
    outcomes: list[ShardOutcome[T]],
    shown: Callable[[T], dict[str, object]],
) -> None:
    """One line per shard — what ``shown`` makes of its result, or its error — then exit 1
    if any shard failed: run the command again to resume those shards alone."""
    lines = [
        {"shard": o.shard, "ok": o.ok, **(shown(o.result) if o.result is not None else {})}
        | ({"error": o.error} if o.error else {})
        for o in outcomes
    ]

    def human() -> None:
        from rich.table import Table

        table = Table(title=title)
        columns = list(dict.fromkeys(k for line in lines for k in line if k != "ok"))
        for column in columns:
            table.add_column(column, justify="left" if column in ("shard", "error") else "right")
        for line in lines:
            table.add_row(*(_cell(line.get(c)) for c in columns))
        out.print(table)

    emit(as_json, {"shards": lines}, human)
    failed = [o.shard for o in outcomes if not o.ok]
    if failed:
        err.print(
            f"failed on shard {', '.join(failed)}; the others' results stand: "
            "run the command again to resume the failed ones alone"
        )
        raise typer.Exit(1)


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


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


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True)
