"""``vasguard db``: create the schema or migrate it."""

from __future__ import annotations

from vasguard.cli.console import out, runtime, sub_app
from vasguard.store.migrate import upgrade

app = sub_app("Create and migrate the database.")


@app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema or migrate it to the newest revision (never past what it knows)."""
    rt = runtime(check_schema=False)
    upgrade(rt.engine)
    out.print(f"database at {rt.engine.url.render_as_string()} is up to date")
