"""ListUsers' pages through the users service's reads (users/adapters/db/reads.py) on a real
database: the same pages a unit of work reads, every write committed before a page is in it, and
on PostgreSQL a burst of pages keeps no more held connections than its share once it is over,
and a small pool's reads keep none."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.postgres import lock_waiters
from tests.support.waiting import eventually
from usersuite.platform.db.engine import create_engine
from usersuite.users.adapters.db.reads import SqlUserReads
from usersuite.users.adapters.db.repository import SqlUserRepository
from usersuite.users.domain.model import User

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POOL_SIZE = 8  # the reads keep a quarter of it held: one for point reads, one for pages
PAGES_KEEP = 1


def someone(number: int) -> User:
    created = NOW + timedelta(seconds=number)
    return User(f"u{number:03}", f"User {number}", f"u{number}@example.org", created, created, 1)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(db_url, pool_size=POOL_SIZE, max_overflow=0)
    yield built
    await built.dispose()


async def add(engine: AsyncEngine, *numbers: int) -> None:
    async with engine.begin() as conn:
        for number in numbers:
            await SqlUserRepository(conn).add(someone(number))


async def test_pages_are_a_unit_of_works_pages_and_see_every_committed_write(
    engine: AsyncEngine, reads: SqlUserReads
) -> None:
    await add(engine, *range(1, 8))
    async with engine.connect() as conn:
        expected = await SqlUserRepository(conn).list_after(0, 100)
    first = await reads.list_after(0, 3)
    rest = await reads.list_after(first[-1][0], 100)
    assert first + rest == expected
    assert [user for _, user in first] == [someone(1), someone(2), someone(3)]
    assert await reads.list_after(expected[-1][0], 100) == []

    await add(engine, 8)  # committed on another connection, after the pages above
    assert [user for _, user in await reads.list_after(expected[-1][0], 100)] == [someone(8)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_burst_of_pages_keeps_only_its_share_of_the_pool_held_once_over(
    db_url: str, engine: AsyncEngine, reads: SqlUserReads
) -> None:
    await add(engine, *range(1, 4))
    pool = engine.sync_engine.pool
    async with engine.connect() as holder:
        # Every page of the burst is in flight at once: each waits at the test's lock.
        await holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        burst = [asyncio.ensure_future(reads.list_after(0, 10)) for _ in range(5)]

        async def all_waiting() -> bool:
            return await lock_waiters(db_url, "%FROM users%") == len(burst)

        await eventually(all_waiting, within=5, what="five pages at the lock")
        assert pool.checkedout() == 1 + len(burst)  # type: ignore[attr-defined]
        await holder.rollback()
    pages = await asyncio.gather(*burst)
    assert all([user for _, user in page] == [someone(1), someone(2), someone(3)] for page in pages)
    assert pool.checkedout() == PAGES_KEEP  # type: ignore[attr-defined]
    # The kept one serves the next pages without taking more.
    for _ in range(3):
        await reads.list_after(0, 1)
    assert pool.checkedout() == PAGES_KEEP  # type: ignore[attr-defined]
    await reads.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_pool_of_one_keeps_nothing_for_reads_and_its_connection_runs_transactions(
    db_url: str,
) -> None:
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    reads = SqlUserReads(engine)
    try:
        await add(engine, 1)
        assert await reads.get("u001") == someone(1)
        assert [user for _, user in await reads.list_after(0, 10)] == [someone(1)]
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        # The one connection, given back by the reads, is out of autocommit again: a
        # transaction on it is one, and its rollback leaves nothing.
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.autocommit is False  # type: ignore[union-attr]
            transaction = await conn.begin()
            await SqlUserRepository(conn).add(someone(2))
            await transaction.rollback()
        assert [user for _, user in await reads.list_after(0, 10)] == [someone(1)]
    finally:
        await reads.close()
        await engine.dispose()
