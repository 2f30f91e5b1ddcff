"""Hot statements on the psycopg connection under SQLAlchemy's (platform/db/driver.py), on a
real PostgreSQL and SQLite: the same rows as SQLAlchemy's, inside the unit of work's
transaction, SQLAlchemy's errors when the database fails them, and writes left to SQLAlchemy
where it adds values or conversions."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    PickleType,
    Table,
    Text,
    bindparam,
    event,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.dialect import as_utc
from usersuite.platform.db.driver import (
    DriverStatement,
    one_statement,
    one_statement_params,
    write_sql,
)
from usersuite.platform.db.engine import create_engine
from usersuite.users.adapters.db.repository import USER_COLUMNS, SqlUserRepository
from usersuite.users.adapters.db.tables import users
from usersuite.users.domain.model import User

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PAGE = DriverStatement(
    select(*USER_COLUMNS).where(users.c.id > bindparam("after")).order_by(users.c.id)
)


def someone(user_id: str) -> User:
    return User(user_id, f"User {user_id}", f"{user_id}@example.org", NOW, NOW, 1)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(db_url, pool_size=2, max_overflow=0)
    yield built
    await built.dispose()


async def test_the_driver_gives_the_rows_sqlalchemy_gives(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for user_id in ("a", "b", "c"):
            await SqlUserRepository(conn).add(someone(user_id))
    async with engine.connect() as conn:
        direct = await PAGE.rows(conn, {"after": "a"})
        through = (await conn.execute(PAGE.statement, {"after": "a"})).all()
    assert [tuple(row) for row in direct] == [tuple(row) for row in through]
    assert [row[0] for row in direct] == ["b", "c"]
    assert as_utc(direct[0][3]) == NOW  # SQLite's are naive


async def test_a_read_on_the_driver_runs_inside_the_unit_of_works_transaction(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await SqlUserRepository(conn).add(someone("uncommitted"))
        assert [row[0] for row in await PAGE.rows(conn, {"after": ""})] == ["uncommitted"]
        await transaction.rollback()
    async with engine.connect() as conn:
        assert await PAGE.rows(conn, {"after": ""}) == []


async def test_listeners_see_the_statement_through_sqlalchemy(engine: AsyncEngine) -> None:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with engine.connect() as conn:
            await PAGE.rows(conn, {"after": ""})
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert any("FROM users" in statement for statement in seen)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_lost_session_raises_sqlalchemys_error_and_invalidates_the_connection(
    engine: AsyncEngine, db_url: str
) -> None:
    killer = create_engine(db_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            pid = await conn.scalar(select(func.pg_backend_pid()))
            async with killer.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            with pytest.raises(OperationalError) as raised:
                await PAGE.rows(conn, {"after": ""})
            assert raised.value.connection_invalidated
            assert conn.invalidated
    finally:
        await killer.dispose()
    async with engine.connect() as conn:  # the pool replaced it
        assert await PAGE.rows(conn, {"after": ""}) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_failed_statement_raises_sqlalchemys_error_with_the_sqlstate(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SET statement_timeout = 1")
        sleeping = DriverStatement(select(func.pg_sleep(1)))
        with pytest.raises(DBAPIError) as raised:
            await sleeping.rows(conn, {})
        assert getattr(raised.value.orig, "sqlstate", None) == "57014"
        assert not conn.invalidated


def test_a_write_goes_to_the_driver_only_when_sqlalchemy_adds_nothing() -> None:
    metadata = MetaData()
    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("body", Text),
        Column("stamp", Integer, default=lambda: 7),  # computed in Python by SQLAlchemy
        Column("extra", PickleType),  # converted by SQLAlchemy
        Column("first line", Text),  # its placeholder is renamed by SQLAlchemy
    )
    plain = write_sql(notes.insert().inline(), ("id", "body", "stamp"))
    assert plain is not None
    assert plain.startswith("INSERT INTO notes (id, body, stamp) VALUES (%(id)s")
    assert write_sql(notes.insert().inline(), ("id", "body")) is None  # stamp's default
    assert write_sql(notes.insert().inline(), ("id", "body", "stamp", "extra")) is None
    assert write_sql(notes.insert().inline(), ("id", "body", "stamp", "first line")) is None


def test_blind_inserts_into_distinct_tables_are_one_statement_and_one_tables_are_not() -> None:
    metadata = MetaData()
    first = Table("first", metadata, Column("id", Integer, primary_key=True), Column("a", Text))
    second = Table("second", metadata, Column("id", Integer, primary_key=True), Column("b", Text))
    into_first, into_second = first.insert().inline(), second.insert().inline()
    together = one_statement(((into_first, ("id", "a")), (into_second, ("id", "b"))))
    assert together == (
        "WITH w0 AS (INSERT INTO first (id, a) VALUES (%(w0_id)s::INTEGER, %(w0_a)s::VARCHAR)) "
        "INSERT INTO second (id, b) VALUES (%(w1_id)s::INTEGER, %(w1_b)s::VARCHAR)"
    )
    assert one_statement_params([{"id": 1, "a": "x"}, {"id": 2, "b": "y"}]) == {
        "w0_id": 1, "w0_a": "x", "w1_id": 2, "w1_b": "y",
    }  # fmt: skip
    assert one_statement(((into_first, ("id", "a")), (into_first, ("id", "a")))) is None
    assert one_statement(((into_first, ("id", "a")), (second.update(), ("id", "b")))) is None
    assert one_statement(((into_first, ("id",)), (into_second, ("id", "b")))) is not None


def test_statements_sqlalchemy_expands_at_execution_stay_with_sqlalchemy() -> None:
    listed = select(users.c.id).where(users.c.id.in_(["a", "b"]))
    with pytest.raises(ValueError, match="expansions"):
        DriverStatement(listed)
    with pytest.raises(ValueError, match="conversions"):
        DriverStatement(select(literal_column("'x'", type_=PickleType)))
    expanding = users.delete().where(users.c.id.in_(bindparam("ids", expanding=True)))
    assert write_sql(expanding, ("ids",)) is None
