"""The Alembic migrations create exactly the schema the code's tables describe."""

from tests.support.schema import schema_differences
from usersuite.users.adapters.db.schema import migrations as migrate
from usersuite.users.adapters.db.tables import metadata


def test_migrated_schema_matches_the_tables(db_url: str) -> None:
    assert schema_differences(db_url, metadata) == []


def test_migrations_are_at_head_and_idempotent(db_url: str) -> None:
    assert migrate.current_revision(db_url) == migrate.head_revision()
    migrate.upgrade(db_url)
    assert migrate.current_revision(db_url) == migrate.head_revision()


def test_an_empty_database_has_no_revision(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    assert migrate.current_revision(url) is None
