"""``vasguard serve``: the running platform."""

from __future__ import annotations

from typing import Annotated

import typer

from vasguard.cli.console import err, runtime
from vasguard.store.migrate import upgrade


def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
) -> None:
    """Run the HTTP API; an empty database is migrated and filled with demo data first."""
    import uvicorn

    from vasguard.channels.http.app import create_app
    from vasguard.generate import GenerationError, generate

    rt = runtime(check_schema=False)
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
