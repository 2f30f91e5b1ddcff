"""CreateUser's transaction in one round trip (one statement, or psycopg's pipeline mode) on a
real PostgreSQL: what travels on the wire (libpq's own protocol trace), and that clashes, request
ids, rollbacks and the order of one table's rows behave exactly as statement by statement."""

import tempfile
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.outbox_writer import INSERT_OUTBOX, outbox_values
from usersuite.platform.db.pipeline import DeferredWrites
from usersuite.platform.db.tables import idempotency, outbox
from usersuite.platform.domain.events import EventMetadata, utc_now
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


def parsed(messages: list[tuple[str, str, str]]) -> list[str]:
    """The statements the client had parsed, in order."""
    return [rest.split('"')[3] for _, kind, rest in messages if kind == "Parse"]


async def test_a_create_is_one_round_trip_and_one_statement(
    engine: AsyncEngine, handlers: UserHandlers
) -> None:
    await handlers.create_user(commands.CreateUser(display_name="Warm", email="warm@x.org"))
    driver = await the_connection(engine)
    with Wire(driver) as wire:
        user = await handlers.create_user(commands.CreateUser(display_name="Ada", email="a@x.org"))
    messages = wire.read()
    assert round_trips(messages) == 1
    [statement] = parsed(messages)  # a transaction of its own: no BEGIN, no COMMIT
    assert statement.startswith("WITH w0 AS (INSERT INTO users ")
    assert ") INSERT INTO outbox " in statement
    assert await count(engine, users) == 2
    assert await count(engine, outbox) == 2
    assert (await handlers.get_user(commands.GetUser(user.id))) == user
    assert driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not driver.autocommit  # the next unit of work's statements are a transaction again


async def test_while_statements_are_listened_to_a_create_goes_in_the_pipeline(
    engine: AsyncEngine, handlers: UserHandlers
) -> None:
    heard: list[str] = []

    def hear(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        heard.append(statement.split(" ", maxsplit=1)[0])

    event.listen(engine.sync_engine, "before_cursor_execute", hear)
    try:
        await handlers.create_user(commands.CreateUser(display_name="Warm", email="warm@x.org"))
        driver = await the_connection(engine)
        heard.clear()
        with Wire(driver) as wire:
            await handlers.create_user(commands.CreateUser(display_name="Ada", email="a@x.org"))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", hear)
    messages = wire.read()
    assert round_trips(messages) == 1
    assert [sql.split(" ")[0] for sql in parsed(messages)] == [
        "BEGIN",
        "INSERT",
        "INSERT",
        "COMMIT",
    ]
    assert heard == ["INSERT", "INSERT"]  # through SQLAlchemy, so tracing sees each write
    assert await count(engine, outbox) == 2


async def test_two_rows_of_one_table_keep_their_order_in_one_round_trip(
    engine: AsyncEngine,
) -> None:
    def message(n: int) -> dict[str, Any]:
        metadata = EventMetadata(f"event-{n}", utc_now(), "users/ada", n)
        return outbox_values(metadata, "user.v1.UserUpdated", b"%d" % n, "user")

    driver = await the_connection(engine)
    with Wire(driver) as wire:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            writes = DeferredWrites(conn)
            for n in (1, 2, 3):
                await writes.write(INSERT_OUTBOX, message(n))
            await writes.commit(transaction)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(outbox.c.event_id).order_by(outbox.c.seq))).all()
    assert [event_id for (event_id,) in stored] == ["event-1", "event-2", "event-3"]
    messages = wire.read()
    assert round_trips(messages) == 1
    # Not one statement: its CTEs would run in no specified order.
    assert [sql.split(" ")[0] for sql in parsed(messages)] == ["BEGIN"] + ["INSERT"] * 3 + [
        "COMMIT"
    ]


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
