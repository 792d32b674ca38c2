"""The ``vasguard`` command: database, data, orders, SMS, jobs, care, reports, shards, server.

Each sub-command group is a module of its own; this one only assembles them.
"""

from __future__ import annotations

import typer

from vasguard.cli import (
    audit,
    complaints,
    data,
    database,
    jobs,
    keys,
    orders,
    plans,
    reports,
    serve,
    shards,
    sms,
)
from vasguard.cli.console import RefusingGroup

app = typer.Typer(
    help=__doc__.splitlines()[0] if __doc__ else None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=RefusingGroup,
)
app.add_typer(database.app, name="db")
app.add_typer(data.app, name="data")
app.add_typer(sms.app, name="sms")
app.add_typer(jobs.app, name="jobs")
app.add_typer(plans.app, name="plan")
app.add_typer(complaints.app, name="complaint")
app.add_typer(keys.app, name="keys")
app.add_typer(shards.app, name="shards")
app.add_typer(reports.app, name="report")
app.command("order")(orders.order)
app.command("audit")(audit.audit)
app.command("refund")(complaints.refund)
app.command("serve")(serve.serve)
