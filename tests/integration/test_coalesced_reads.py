"""GetUser's coalesced point reads on a real database: reads that wait behind a query share
the next one, and a read sees every write committed before it on another connection."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.postgres import until_waiting_for_lock
from usersuite.platform.db.engine import create_engine
from usersuite.users.adapters.db.reads import SqlUserReads
from usersuite.users.adapters.db.repository import SqlUserRepository
from usersuite.users.domain.model import User

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def someone(user_id: str, version: int = 1) -> User:
    return User(
        id=user_id,
        display_name=f"User {user_id} v{version}",
        email=f"{user_id}@example.org",
        create_time=NOW,
        update_time=NOW,
        version=version,
    )


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(db_url, pool_size=4)
    yield built
    await built.dispose()


@pytest.fixture
async def writer(db_url: str) -> AsyncIterator[AsyncEngine]:
    """Another engine: its connections are not the reads' connections."""
    built = create_engine(db_url, pool_size=1)
    yield built
    await built.dispose()


async def write(writer: AsyncEngine, user: User, *, new: bool) -> None:
    async with writer.begin() as conn:
        repository = SqlUserRepository(conn)
        if new:
            await repository.add(user)
        else:
            assert await repository.update(user, user.version - 1)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_reads_waiting_behind_a_query_in_flight_share_the_next_one(
    db_url: str, reads: SqlUserReads, writer: AsyncEngine
) -> None:
    for user_id in ("u1", "u2", "u3"):
        await write(writer, someone(user_id), new=True)
    async with writer.connect() as holder:
        # The test holds the first query in flight: it waits for this lock until the test
        # lets go, so every read that comes meanwhile must wait for the next query.
        await holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        first = asyncio.ensure_future(reads.get("u1"))
        await until_waiting_for_lock(db_url, "%FROM users%", "the first read at the lock")
        assert reads.queries == 1
        keys = ["u1", "u2", "u3", "missing"] * 10
        later = [asyncio.ensure_future(reads.get(key)) for key in keys]
        for _ in range(100):
            if reads.waiting == len(later):
                break
            await asyncio.sleep(0)
        assert reads.waiting == len(later)
        await holder.rollback()  # lets the first query go
    assert (await first) == someone("u1")
    answers = await asyncio.gather(*later)
    assert [user.id if user else None for user in answers] == [
        key if key != "missing" else None for key in keys
    ]
    assert reads.queries == 2  # the forty reads that waited were one query


async def test_a_read_sees_every_write_committed_before_it_on_another_connection(
    reads: SqlUserReads, writer: AsyncEngine
) -> None:
    await write(writer, someone("watched"), new=True)
    stop = asyncio.Event()

    async def keep_reading() -> None:
        # Reads of the same user all the while, so most reads meet a query in flight.
        for _ in range(10_000):
            if stop.is_set():
                return
            await reads.get("watched")

    crowd = [asyncio.ensure_future(keep_reading()) for _ in range(8)]
    try:
        for version in range(2, 22):
            await write(writer, someone("watched", version), new=False)
            seen = await reads.get("watched")
            assert seen is not None
            assert seen.version == version
            assert seen.display_name == f"User watched v{version}"
    finally:
        stop.set()
        await asyncio.gather(*crowd)
    assert await reads.get("nobody") is None
