"""Reads on held connections (platform/db/held.py) on a real PostgreSQL: one connection kept
between queries and given back on close or once no read used it for a while; a connection that
died is replaced; deadlines, cancellations and lost sessions end the read cleanly and never
leave a connection mid-statement."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Integer, PickleType, bindparam, event, func, literal_column, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.postgres import until_waiting_for_lock
from tests.support.waiting import eventually, holds
from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.held import HeldReader
from usersuite.platform.domain.errors import ValidationFailed
from usersuite.platform.service import request_context
from usersuite.platform.service.errors import DeadlineExceeded, ServiceUnavailable
from usersuite.users.adapters.db.repository import SqlUserRepository
from usersuite.users.adapters.db.tables import users
from usersuite.users.domain.model import User

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
# Which session answered: the test tells a kept connection from a replaced one by it.
WHO_ANSWERS = select(users.c.id, func.pg_backend_pid()).where(users.c.id == bindparam("id"))


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(pg_url, pool_size=4, max_overflow=0)
    async with built.begin() as conn:
        await SqlUserRepository(conn).add(User("u1", "User 1", "u1@example.org", NOW, NOW, 1))
    yield built
    await built.dispose()


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """Another engine: it locks tables, watches, and ends sessions the reader holds."""
    built = create_engine(pg_url, pool_size=2, max_overflow=0)
    yield built
    await built.dispose()


@pytest.fixture
async def reader(engine: AsyncEngine) -> AsyncIterator[HeldReader]:
    # Never pinged, never given back while idle: each test decides what happens meanwhile.
    held = HeldReader(engine, WHO_ANSWERS, idle_seconds=3600, give_back_seconds=3600)
    yield held
    await held.close()


async def answering_pid(reader: HeldReader) -> int:
    rows = await reader.rows({"id": "u1"})
    assert [row[0] for row in rows] == ["u1"]
    return int(rows[0][1])


async def terminate(admin: AsyncEngine, pid: int) -> None:
    async with admin.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


async def test_one_connection_serves_every_read_and_goes_back_on_close(
    engine: AsyncEngine, reader: HeldReader
) -> None:
    pids = {await answering_pid(reader) for _ in range(20)}
    assert len(pids) == 1
    assert engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    await reader.close()
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_connection_that_died_while_idle_is_replaced_before_a_read_meets_it(
    engine: AsyncEngine, admin: AsyncEngine
) -> None:
    reader = HeldReader(engine, WHO_ANSWERS, idle_seconds=0, give_back_seconds=3600)
    try:
        first = await answering_pid(reader)
        await terminate(admin, first)
        # Idle past the ping interval: pinged, found dead, replaced; the read never sees it.
        second = await answering_pid(reader)
        assert second != first
    finally:
        await reader.close()


async def test_a_connection_no_read_used_for_a_while_goes_back_to_the_pool_at_rest(
    engine: AsyncEngine,
) -> None:
    pool = engine.sync_engine.pool
    reader = HeldReader(engine, WHO_ANSWERS, idle_seconds=3600, give_back_seconds=0.1)
    try:
        first = await answering_pid(reader)
        await eventually(
            holds(lambda: pool.checkedout() == 0),  # type: ignore[attr-defined]
            what="the idle connection given back to the pool",
        )
        # At rest, not closed: the pool (last in, first out) hands the same session out again.
        assert await answering_pid(reader) == first
    finally:
        await reader.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_session_lost_mid_use_fails_one_read_as_unavailable_then_a_new_one_serves(
    reader: HeldReader, admin: AsyncEngine
) -> None:
    first = await answering_pid(reader)
    await terminate(admin, first)  # not idle long enough to be pinged: the read meets it
    with pytest.raises(ServiceUnavailable):
        await reader.rows({"id": "u1"})
    assert await answering_pid(reader) != first


async def test_a_deadline_cancels_the_statement_and_the_connection_serves_the_next_read(
    reader: HeldReader, admin: AsyncEngine
) -> None:
    first = await answering_pid(reader)
    async with admin.connect() as holder:
        # The statement can only end by its timeout: the lock is held until after it fails.
        await holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        token = request_context.deadline.set(time.monotonic() + 0.5)
        try:
            # The outer bound only keeps a broken deadline from hanging the test.
            with pytest.raises(DeadlineExceeded):
                async with asyncio.timeout(60):
                    await reader.rows({"id": "u1"})
        finally:
            request_context.deadline.reset(token)
        await holder.rollback()
    # Back at rest after the cancelled statement: kept, and unbounded again.
    assert await answering_pid(reader) == first


async def test_a_read_cancelled_mid_statement_leaves_no_connection_mid_statement(
    engine: AsyncEngine, reader: HeldReader, admin: AsyncEngine, pg_url: str
) -> None:
    await answering_pid(reader)
    async with admin.connect() as holder:
        await holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        waiting = asyncio.ensure_future(reader.rows({"id": "u1"}))
        await until_waiting_for_lock(pg_url, "%FROM users%", "the read at the lock")
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await holder.rollback()
    await answering_pid(reader)
    assert engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    async with admin.connect() as watcher:
        busy = await watcher.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND query LIKE '%FROM users%' AND pid <> pg_backend_pid()"
            )
        )
    assert busy == 0


async def test_statements_go_through_sqlalchemy_while_something_listens_to_them(
    engine: AsyncEngine, reader: HeldReader
) -> None:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    await answering_pid(reader)
    assert seen == []
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await answering_pid(reader)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert any("FROM users" in statement for statement in seen)


async def test_statements_whose_types_sqlalchemy_converts_are_refused(
    engine: AsyncEngine, sqlite_url: str
) -> None:
    pickled = select(literal_column("'x'", type_=PickleType))
    with pytest.raises(ValueError, match="conversions"):
        HeldReader(engine, pickled)
    embedded = create_engine(sqlite_url)
    try:
        with pytest.raises(ValueError, match="PostgreSQL only"):
            HeldReader(embedded, WHO_ANSWERS)
    finally:
        await embedded.dispose()


async def test_a_connection_that_fails_its_set_up_is_given_back_and_the_read_is_unavailable(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = HeldReader(engine, WHO_ANSWERS)

    async def refused(self: AsyncConnection, **options: Any) -> AsyncConnection:
        raise OperationalError("SET", {}, Exception("the server went away"))

    with monkeypatch.context() as patched:
        # The switch to autocommit fails after the checkout: the session is in doubt.
        patched.setattr(AsyncConnection, "execution_options", refused)
        with pytest.raises(ServiceUnavailable):
            await reader.rows({"id": "u1"})
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await answering_pid(reader) > 0  # a new connection serves
    await reader.close()


async def test_a_reader_runs_each_of_its_statements_on_the_connection_it_holds(
    engine: AsyncEngine,
) -> None:
    names = select(users.c.display_name, func.pg_backend_pid()).where(users.c.id == bindparam("id"))
    reader = HeldReader(engine, WHO_ANSWERS, names, idle_seconds=3600, give_back_seconds=3600)
    try:
        pid = await answering_pid(reader)
        rows = await reader.rows({"id": "u1"}, names)
        assert [(row[0], row[1]) for row in rows] == [("User 1", pid)]
        with pytest.raises(KeyError):
            await reader.rows({"id": "u1"}, select(users.c.email))  # not one of its statements
        assert await answering_pid(reader) == pid
    finally:
        await reader.close()


async def test_a_statement_the_database_refuses_leaves_the_held_connection_serving_reads(
    engine: AsyncEngine,
) -> None:
    # The held connection runs every statement on one cursor: one that failed must not leave
    # it holding the failure, or the statement's result for the next read.
    numbers = select(literal_column("1"), func.pg_backend_pid()).where(
        literal_column("1") == bindparam("n", type_=Integer)
    )
    reader = HeldReader(engine, WHO_ANSWERS, numbers, idle_seconds=3600, give_back_seconds=3600)
    try:
        pid = await answering_pid(reader)
        with pytest.raises(ValidationFailed):
            await reader.rows({"n": "not a number"}, numbers)
        assert await answering_pid(reader) == pid
        assert [tuple(row) for row in await reader.rows({"n": 1}, numbers)] == [(1, pid)]
        assert [tuple(row) for row in await reader.rows({"n": 2}, numbers)] == []
        assert await answering_pid(reader) == pid
    finally:
        await reader.close()
