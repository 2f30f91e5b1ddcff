"""Orders' Alembic history creates exactly the schema its tables describe."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.support.postgres import Postgres
from usersuite.orders.adapters.db.schema import migrations
from usersuite.orders.adapters.db.tables import metadata
from usersuite.platform.db.engine import sync_url


@pytest.fixture(params=["postgresql", "sqlite"])
def orders_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    url = postgres.empty_database()
    yield url
    postgres.drop_database(url)


def test_the_migrated_schema_matches_the_tables(orders_url: str) -> None:
    migrations.upgrade(orders_url)
    engine = create_engine(sync_url(orders_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_migrating_again_changes_nothing(orders_url: str) -> None:
    assert migrations.current_revision(orders_url) is None
    migrations.upgrade(orders_url)
    migrations.upgrade(orders_url)
    assert migrations.current_revision(orders_url) == migrations.head_revision() == "0001"
