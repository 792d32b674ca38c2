"""``vasguard serve``: the running platform (HTTP API, SMS engine, scheduler)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from vasguard.cli.console import fail, runtime
from vasguard.store.migrate import upgrade

log = logging.getLogger("vasguard.process")


def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="TOML file of settings (environment variables win); default $VASGUARD_CONFIG",
        ),
    ] = None,
) -> None:
    """Run the platform until SIGTERM; an empty database is migrated and given demo data.

    The SMS engine is SMPP when VASGUARD_SMPP_HOST is set, otherwise the loopback SMSC.
    """
    from vasguard.generate import GenerationError, generate
    from vasguard.process.logs import configure
    from vasguard.process.main import serve as run

    rt = runtime(check_schema=False, config=config)
    s = rt.settings
    configure(s.log_level, s.log_format)
    try:
        upgrade(rt.engine)
    except OperationalError as down:
        shown = make_url(s.database_url).render_as_string(hide_password=True)
        reason = " ".join(str(down.orig).split())
        fail(f"the database {shown} does not answer: {reason}", code=1)
    n = s.demo_subscribers
    try:
        generate(rt.engine, subscribers=n, seed=1, at=rt.clock().now())
        log.info("empty database: generated a demo operator", extra={"subscribers": n})
    except GenerationError:
        pass  # the database already holds an operator: serve it as it is
    status = asyncio.run(
        run(rt, rt.sms_engine(), host=host or s.http_host, port=port or s.http_port)
    )
    raise typer.Exit(status)
