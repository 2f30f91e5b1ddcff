"""The Alembic migrations create exactly the schema the code's tables describe."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.schema import empty_database_url, schema_differences
from usersuite.platform.db.engine import sync_url
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


def outbox_indexes(url: str) -> dict[str, str]:
    """The outbox's indexes but its keys, by name: their definitions (PostgreSQL's, with the
    condition of a partial one) or, on SQLite, their SQL."""
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                query = text(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                    " JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE i.indrelid = 'outbox'::regclass AND i.indisvalid"
                    " AND NOT i.indisunique"
                )
            else:
                query = text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                    " AND tbl_name = 'outbox' AND sql IS NOT NULL"
                )
            return {name: definition for name, definition in conn.execute(query)}
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            config = Config()
            config.set_main_option("script_location", str(migrate.directory))
            config.attributes["connection"] = conn
            command.downgrade(config, revision)
            conn.commit()
    finally:
        engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from empty_database_url(request, tmp_path)


def test_the_outbox_indexes_by_state_replace_those_over_every_row_and_back(
    unmigrated_url: str,
) -> None:
    url = unmigrated_url
    migrate.upgrade(url, "0006")
    engine = create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            rows = [
                {"event_id": f"e{n}", "aggregate_name": f"users/u{n}", "state": state}
                for n, state in enumerate(["pending", "dispatched", "parked"])
            ]
            insert = text(
                "INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name,"
                " aggregate_version, payload, occurred_time, state) VALUES (:event_id,"
                " 'user.v1.UserCreated', 'user.v1.User', :aggregate_name, 1, :payload,"
                " CURRENT_TIMESTAMP, :state)"
            )
            conn.execute(insert, [{**row, "payload": b"x"} for row in rows])
    finally:
        engine.dispose()
    old = {"ix_outbox_state_seq", "ix_outbox_aggregate_name_state"}
    assert set(outbox_indexes(url)) == old

    migrate.upgrade(url)
    indexes = outbox_indexes(url)
    assert set(indexes) == {"ix_outbox_pending_seq", "ix_outbox_parked_aggregate_name"}
    assert "'pending'" in indexes["ix_outbox_pending_seq"]
    assert "'parked'" in indexes["ix_outbox_parked_aggregate_name"]
    assert schema_differences(url, metadata) == []

    downgrade(url, "0006")
    assert set(outbox_indexes(url)) == old
    migrate.upgrade(url)
    assert set(outbox_indexes(url)) == {"ix_outbox_pending_seq", "ix_outbox_parked_aggregate_name"}
