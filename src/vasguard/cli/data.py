"""``vasguard data``: fill an empty database with a generated operator."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vasguard.cli.console import (
    AtOption,
    JsonOption,
    emit,
    fail,
    out,
    progress_bar,
    runtime,
    sub_app,
)
from vasguard.store.migrate import upgrade

app = sub_app("Generate or load data.")


@app.command("generate")
def data_generate(
    subscribers: Annotated[int, typer.Option(min=0, help="how many subscribers")] = 10_000,
    seed: Annotated[int, typer.Option(help="same seed, same data")] = 1,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fill an empty database with a realistic operator: catalogue, subscribers, history."""
    from vasguard.generate import GenerationError, generate

    rt = runtime(check_schema=False)
    upgrade(rt.engine)
    when = rt.clock(at).now()
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            summary = generate(
                rt.engine,
                subscribers=subscribers,
                seed=seed,
                at=when,
                progress=report,
                deployment=rt.deployment,
            )
        except GenerationError as exc:
            fail(str(exc))
    emit(as_json, summary, lambda: out.print(summary))
