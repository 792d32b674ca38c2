"""Alembic, driven from code so that ``vasguard db upgrade`` needs no alembic.ini.

A database is served only at the revision this code's migrations end at: an older one is
told to run ``vasguard db upgrade``; a newer one (migrated by a later release) is refused,
never "upgraded" or used, since this code cannot know what its schema means.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from vasguard.domain.refusals import Refused


class SchemaMismatch(Refused):
    """The database's schema is not the one this code works with."""

    code = "schema_mismatch"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("vasguard.store").joinpath("migrations"))
    )
    config.attributes["engine"] = engine
    return config


def _revisions(engine: Engine) -> tuple[ScriptDirectory, str | None]:
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return script, current


def _refuse_unknown(script: ScriptDirectory, current: str | None) -> None:
    if current is None:
        return
    try:
        script.get_revision(current)
    except CommandError:
        raise SchemaMismatch(
            f"the database is at schema revision {current}, which this vasguard does not "
            f"know (its newest is {script.get_current_head()}); it was migrated by a newer "
            "release: run that release, or restore a backup made before it"
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    script, current = _revisions(engine)
    _refuse_unknown(script, current)
    command.upgrade(alembic_config(engine), revision)


def check_schema(engine: Engine) -> None:
    """Raise ``SchemaMismatch`` unless the database is at this code's newest revision."""
    script, current = _revisions(engine)
    _refuse_unknown(script, current)
    head = script.get_current_head()
    if current != head:
        raise SchemaMismatch(
            f"the database is at schema revision {current or 'none'}, this vasguard needs "
            f"{head}: run `vasguard db upgrade` first"
        )
