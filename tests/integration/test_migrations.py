"""The Alembic migrations create exactly the schema the code's tables describe."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from usersuite.platform.db.engine import sync_url
from usersuite.users.adapters.db.schema import migrations as migrate
from usersuite.users.adapters.db.tables import metadata


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    engine = create_engine(sync_url(db_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_migrations_are_at_head_and_idempotent(db_url: str) -> None:
    assert migrate.current_revision(db_url) == migrate.head_revision()
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()


def test_an_empty_database_has_no_revision(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    assert migrate.current_revision(url) is None
