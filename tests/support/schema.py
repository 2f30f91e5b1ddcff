"""What a migrated database lacks or has beyond a service's tables (Alembic's comparison), and
the empty databases migration tests start from."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool

from tests.support.postgres import Postgres
from usersuite.platform.db.engine import sync_url


def schema_differences(database_url: str, metadata: MetaData) -> list[Any]:
    """Empty when the database's schema is exactly the one `metadata` describes."""
    engine = create_engine(sync_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """For a fixture parametrized with "postgresql" and "sqlite": the URL of a database with no
    schema, on a fresh PostgreSQL database (dropped after) or a new SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    url = postgres.empty_database()
    yield url
    postgres.drop_database(url)
