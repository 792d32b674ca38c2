from sqlalchemy import inspect

from vasguard.store.migrate import upgrade
from vasguard.store.tables import metadata


def test_migrations_create_every_declared_table(engine):
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrade_is_idempotent(engine):
    upgrade(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_migrations_match_the_declared_tables(engine):
    """A column added to tables.py without a migration fails here, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
