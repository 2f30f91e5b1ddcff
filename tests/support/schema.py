"""What a migrated database lacks or has beyond a service's tables (Alembic's comparison)."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine
from sqlalchemy.pool import NullPool

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
