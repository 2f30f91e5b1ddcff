"""Billing's Alembic history creates exactly the schema its tables describe."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from usersuite.billing.adapters.db.schema import migrations
from usersuite.billing.adapters.db.tables import metadata
from usersuite.platform.db.engine import sync_url


@pytest.fixture(params=["postgresql", "sqlite"])
def billing_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("billing_pg_url"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'billing.db'}"
    migrations.upgrade(url)
    return url


def test_migrated_schema_matches_the_tables(billing_db_url: str) -> None:
    engine = create_engine(sync_url(billing_db_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_migrations_are_at_head_and_idempotent(billing_db_url: str) -> None:
    assert migrations.current_revision(billing_db_url) == migrations.head_revision() == "0001"
    migrations.upgrade(billing_db_url)
    assert migrations.current_revision(billing_db_url) == migrations.head_revision()
