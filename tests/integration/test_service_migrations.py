"""Orders' and billing's Alembic histories create exactly the schema their tables describe, on
PostgreSQL and SQLite, and migrating again changes nothing."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from tests.support.schema import empty_database_url, schema_differences
from usersuite.billing.adapters.db import schema as billing_schema
from usersuite.billing.adapters.db import tables as billing_tables
from usersuite.orders.adapters.db import schema as orders_schema
from usersuite.orders.adapters.db import tables as orders_tables
from usersuite.platform.db.migrate import Migrations

SERVICES: dict[str, tuple[Migrations, MetaData]] = {
    "orders": (orders_schema.migrations, orders_tables.metadata),
    "billing": (billing_schema.migrations, billing_tables.metadata),
}


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from empty_database_url(request, tmp_path)


@pytest.mark.parametrize("service", SERVICES)
def test_the_migrated_schema_matches_the_tables(empty_url: str, service: str) -> None:
    migrations, metadata = SERVICES[service]
    assert migrations.current_revision(empty_url) is None
    migrations.upgrade(empty_url)
    assert schema_differences(empty_url, metadata) == []
    migrations.upgrade(empty_url)
    assert migrations.current_revision(empty_url) == migrations.head_revision() == "0002"
