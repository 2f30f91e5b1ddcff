"""Creates that commit together share one statement (platform/db/group_commit.py), on a real
PostgreSQL: each still gets exactly the outcome a statement of its own would have given it.

The test holds a lock the first create's statement waits for, so every create that comes
meanwhile waits for the next statement; it lets go once they all wait.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.postgres import until_waiting_for_lock
from tests.support.waiting import eventually, holds
from usersuite.platform.db.availability import is_data_error
from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.group_commit import GroupCommit
from usersuite.platform.db.tables import outbox
from usersuite.platform.domain.events import utc_now
from usersuite.platform.service import request_context
from usersuite.platform.service.errors import DeadlineExceeded
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.adapters.db.tables import users
from usersuite.users.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.users.api.mapping import encode_event
from usersuite.users.domain.errors import EmailAlreadyExists
from usersuite.users.domain.model import User
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

INSERT_ROW = (
    "INSERT INTO users (id, display_name, email, create_time, update_time, version) "
    "VALUES (:id, 'Held', :email, now(), now(), 1)"
)


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(pg_url, pool_size=8, max_overflow=0)
    yield built
    await built.dispose()


@pytest.fixture
async def holder(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's own session, whose locks hold the creates' statements."""
    async with engine.connect() as conn:
        yield conn


@pytest.fixture
async def group(engine: AsyncEngine) -> AsyncIterator[GroupCommit]:
    built = GroupCommit(engine)
    yield built
    await built.close()  # its held connection back to the pool before the engine goes


@pytest.fixture
def handlers(engine: AsyncEngine, group: GroupCommit) -> UserHandlers:
    return UserHandlers(
        lambda: SqlUnitOfWork(engine, encode_event, utc_now, group=group),
        PageTokenCodec(b"k" * 32),
    )


def create(
    handlers: UserHandlers, name: str, email: str = "", deadline: float | None = None
) -> "asyncio.Future[User]":
    async def call() -> User:
        request_context.deadline.set(deadline)
        command = commands.CreateUser(display_name=name, email=email or f"{name}@x.org")
        return await handlers.create_user(command)

    return asyncio.ensure_future(call())


async def first_at_the_lock(pg_url: str, handlers: UserHandlers) -> "asyncio.Future[User]":
    """A create whose statement waits for the test's lock: the one in flight."""
    first = create(handlers, "first")
    await until_waiting_for_lock(pg_url, "%INSERT INTO users%", "the first create at the lock")
    return first


async def until_waiting(group: GroupCommit, count: int) -> None:
    await eventually(holds(lambda: group.waiting == count), within=5, what=f"{count} waiting")


async def stored(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    """The users' emails, and the aggregates of the outbox's events (sorted)."""
    async with engine.connect() as conn:
        emails = (await conn.execute(select(users.c.email))).scalars().all()
        aggregates = (await conn.execute(select(outbox.c.aggregate_name))).scalars().all()
    return sorted(emails), sorted(aggregates)


async def only_these_stored(engine: AsyncEngine, created: Sequence[User]) -> None:
    """Exactly the users `created` are stored, each with its own event in the outbox."""
    emails, aggregates = await stored(engine)
    assert emails == sorted(user.email for user in created)
    assert aggregates == sorted(f"users/{user.id}" for user in created)


async def test_creates_that_come_while_one_is_in_flight_share_the_next_statement(
    pg_url: str, engine: AsyncEngine, holder: AsyncConnection, group: GroupCommit,
    handlers: UserHandlers,
) -> None:  # fmt: skip
    await holder.execute(text("LOCK TABLE users IN SHARE MODE"))  # blocks every INSERT
    first = await first_at_the_lock(pg_url, handlers)
    later = [create(handlers, f"later-{n}") for n in range(5)]
    await until_waiting(group, 5)
    assert group.statements == 1
    await holder.rollback()
    created = [await first, *await asyncio.gather(*later)]
    assert group.statements == 2  # the five that waited were one statement
    await only_these_stored(engine, created)  # each user with its own event
    for user in created:
        assert await handlers.get_user(commands.GetUser(user.id)) == user


async def test_a_clash_in_a_shared_statement_fails_only_its_own_create(
    pg_url: str, engine: AsyncEngine, holder: AsyncConnection, group: GroupCommit,
    handlers: UserHandlers,
) -> None:  # fmt: skip
    taken = await handlers.create_user(commands.CreateUser(display_name="T", email="t@x.org"))
    await holder.execute(text("LOCK TABLE users IN SHARE MODE"))
    first = await first_at_the_lock(pg_url, handlers)
    fine = create(handlers, "fine", "fine@x.org")
    clashes_with_earlier = create(handlers, "again", "t@x.org")
    twin = create(handlers, "twin", "fine@x.org")  # clashes with its own statement's row
    also_fine = create(handlers, "also", "also@x.org")
    await until_waiting(group, 4)
    await holder.rollback()
    created = [taken, await first, await also_fine]
    with pytest.raises(EmailAlreadyExists):
        await clashes_with_earlier
    # Each went on alone, as two creates of one email at once always race: one of them wins.
    outcomes = await asyncio.gather(fine, twin, return_exceptions=True)
    [winner] = [user for user in outcomes if isinstance(user, User)]
    assert [type(error) for error in outcomes if not isinstance(error, User)] == [
        EmailAlreadyExists
    ]
    created.append(winner)
    await only_these_stored(engine, created)  # nothing of the refused two
    assert group.statements == 3  # the taken one's, the first's, and the shared one that failed


async def test_a_create_cancelled_while_it_waits_writes_nothing(
    pg_url: str, engine: AsyncEngine, holder: AsyncConnection, group: GroupCommit,
    handlers: UserHandlers,
) -> None:  # fmt: skip
    await holder.execute(text("LOCK TABLE users IN SHARE MODE"))
    first = await first_at_the_lock(pg_url, handlers)
    kept = create(handlers, "kept")
    gone = create(handlers, "gone")
    await until_waiting(group, 2)
    gone.cancel()  # as grpc does when the caller's deadline passes or it hangs up
    with pytest.raises(asyncio.CancelledError):
        await gone
    await holder.rollback()
    created = [await first, await kept]
    await only_these_stored(engine, created)


async def test_a_shared_statement_ends_at_the_earliest_deadline_and_the_others_commit(
    pg_url: str, engine: AsyncEngine, holder: AsyncConnection, group: GroupCommit,
    handlers: UserHandlers,
) -> None:  # fmt: skip
    # Both later creates' emails are taken by rows the test inserted and has not committed: any
    # statement that writes either waits for the test's transaction, which outlives the short
    # deadline, so only the deadline (PostgreSQL's statement_timeout) can end it. The first
    # create waits the same way for another session's row, until the test lets it go.
    await holder.execute(text(INSERT_ROW), {"id": "held-1", "email": "short@x.org"})
    await holder.execute(text(INSERT_ROW), {"id": "held-2", "email": "patient@x.org"})
    async with engine.connect() as other:
        await other.execute(text(INSERT_ROW), {"id": "held-0", "email": "first@x.org"})
        first = await first_at_the_lock(pg_url, handlers)
        short = create(handlers, "short", "short@x.org", deadline=time.monotonic() + 0.5)
        patient = create(handlers, "patient", "patient@x.org")
        await until_waiting(group, 2)
        await other.rollback()
    await first
    with pytest.raises(DeadlineExceeded):
        await asyncio.wait_for(short, timeout=30)  # fails, not hangs, if nothing ends it
    assert not patient.done()  # it went on alone, and waits for the test's rows
    await holder.rollback()
    created = [await first, await patient]
    await only_these_stored(engine, created)


async def test_a_value_too_long_for_its_column_is_refused_not_cut(
    engine: AsyncEngine, group: GroupCommit
) -> None:
    # Parameters travel as unbounded VARCHAR: storing into VARCHAR(63) checks the length (a
    # cast to VARCHAR(63) would cut the value short instead).
    values = {
        "id": "x" * 64, "display_name": "Long", "email": "long@x.org",
        "create_time": utc_now(), "update_time": utc_now(), "version": 1,
    }  # fmt: skip
    with pytest.raises(DBAPIError) as refused:
        await group.commit([(users.insert().inline(), values, None)])
    assert is_data_error(refused.value)  # the unit of work answers it as INVALID_ARGUMENT
    assert await stored(engine) == ([], [])
