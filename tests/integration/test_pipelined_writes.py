"""CreateUser's transaction in one round trip (psycopg pipeline mode) on a real PostgreSQL: what
travels on the wire (libpq's own protocol trace), and that clashes, request ids and rollbacks
behave exactly as they do statement by statement."""

import tempfile
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.tables import idempotency, outbox
from usersuite.platform.domain.events import utc_now
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.adapters.db.tables import users
from usersuite.users.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.users.api.mapping import encode_event
from usersuite.users.domain.errors import EmailAlreadyExists, UserAlreadyExists
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    # One connection: the test traces the very connection every unit of work uses.
    built = create_engine(pg_url, pool_size=1, max_overflow=0)
    yield built
    await built.dispose()


@pytest.fixture
def handlers(engine: AsyncEngine) -> UserHandlers:
    return UserHandlers(
        lambda: SqlUnitOfWork(engine, encode_event, utc_now), PageTokenCodec(b"k" * 32)
    )


async def the_connection(engine: AsyncEngine) -> psycopg.AsyncConnection[Any]:
    async with engine.connect() as conn:
        driver: psycopg.AsyncConnection[Any] = (await conn.get_raw_connection()).driver_connection  # type: ignore[assignment]
    return driver


class Wire:
    """libpq's trace of one connection: which messages went out and came back."""

    def __init__(self, driver: psycopg.AsyncConnection[Any]) -> None:
        self._driver = driver
        self._file = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by read()

    def __enter__(self) -> "Wire":
        self._driver.pgconn.trace(self._file.fileno())
        flags = psycopg.pq.Trace
        self._driver.pgconn.set_trace_flags(flags.SUPPRESS_TIMESTAMPS | flags.REGRESS_MODE)
        return self

    def __exit__(self, *_: object) -> None:
        self._driver.pgconn.untrace()

    def read(self) -> list[tuple[str, str, str]]:
        """(direction F or B, message type, the rest) per message."""
        self._file.seek(0)
        lines = self._file.read().splitlines()
        self._file.close()
        messages = []
        for line in lines:
            direction, _length, kind, *rest = [*line.split("\t"), ""]
            messages.append((direction, kind.strip(), " ".join(rest)))
        return messages


def round_trips(messages: list[tuple[str, str, str]]) -> int:
    """Each Sync (extended protocol) or Query (simple protocol) the client sends waits for the
    server's ReadyForQuery: one round trip."""
    asked = sum(1 for d, kind, _ in messages if d == "F" and kind in ("Sync", "Query"))
    ready = sum(1 for d, kind, _ in messages if d == "B" and kind == "ReadyForQuery")
    assert asked == ready
    return ready


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_create_is_one_round_trip_with_begin_inserts_and_commit(
    engine: AsyncEngine, handlers: UserHandlers
) -> None:
    await handlers.create_user(commands.CreateUser(display_name="Warm", email="warm@x.org"))
    driver = await the_connection(engine)
    with Wire(driver) as wire:
        user = await handlers.create_user(commands.CreateUser(display_name="Ada", email="a@x.org"))
    messages = wire.read()
    assert round_trips(messages) == 1
    statements = [rest.split('"')[3].split(" ")[0] for d, kind, rest in messages if kind == "Parse"]
    assert statements == ["BEGIN", "INSERT", "INSERT", "COMMIT"]
    assert await count(engine, users) == 2
    assert await count(engine, outbox) == 2
    assert (await handlers.get_user(commands.GetUser(user.id))) == user


async def test_a_clash_in_the_pipeline_is_the_same_domain_error_and_leaves_nothing(
    engine: AsyncEngine, handlers: UserHandlers
) -> None:
    first = await handlers.create_user(
        commands.CreateUser(display_name="Ada", email="ada@x.org", user_id="ada-lovelace")
    )
    with pytest.raises(EmailAlreadyExists):
        await handlers.create_user(commands.CreateUser(display_name="Other", email="ada@x.org"))
    with pytest.raises(UserAlreadyExists):
        await handlers.create_user(
            commands.CreateUser(display_name="Other", email="other@x.org", user_id="ada-lovelace")
        )
    # Nothing of the refused creates was written, and the connection serves the next one.
    assert await count(engine, users) == 1
    assert await count(engine, outbox) == 1
    driver = await the_connection(engine)
    assert driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not driver.autocommit
    again = await handlers.create_user(commands.CreateUser(display_name="B", email="b@x.org"))
    assert (await handlers.get_user(commands.GetUser(first.id))) == first
    assert (await handlers.get_user(commands.GetUser(again.id))) == again


async def test_a_create_with_a_request_id_claims_first_then_pipelines_the_rest(
    engine: AsyncEngine, handlers: UserHandlers
) -> None:
    request = commands.CreateUser(
        display_name="Ada", email="ada@x.org", request_id="8c7f6a36-6c4c-4b43-8f5b-0f3a1b2c3d4e"
    )
    await handlers.create_user(commands.CreateUser(display_name="Warm", email="warm@x.org"))
    driver = await the_connection(engine)
    with Wire(driver) as wire:
        created = await handlers.create_user(request)
    # The claim's answer decides the rest: BEGIN + claim, then the writes with COMMIT.
    assert round_trips(wire.read()) == 3
    assert await handlers.create_user(request) == created  # answered from the stored response
    assert await count(engine, users) == 2
    assert await count(engine, outbox) == 2
    async with engine.connect() as conn:
        stored = (await conn.execute(select(idempotency.c.response))).scalar_one()
    assert created.id in stored
