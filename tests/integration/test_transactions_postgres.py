"""Races and atomicity on real PostgreSQL: idempotency, etags, the outbox in the same commit."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from sqlalchemy import func, select

from tests.support.settings import make_settings
from tests.support.status import details_of
from tests.support.stubs import AsyncUserStub
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import UsersContainer, bootstrap
from usersuite.platform.db.group_commit import GroupCommit
from usersuite.platform.db.tables import idempotency, outbox
from usersuite.platform.domain.events import utc_now
from usersuite.platform.grpc.server import ApiServer, start
from usersuite.platform.service.errors import ServiceUnavailable
from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.adapters.db.tables import users
from usersuite.users.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.users.api.mapping import encode_event
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers


@pytest.fixture
async def pg_container(pg_url: str) -> AsyncIterator[UsersContainer]:
    built = bootstrap(
        make_settings(
            pg_url, database={"health_interval_seconds": 0.2, "pool_size": 20, "max_overflow": 0}
        )
    )
    yield built
    await built.close()


@pytest.fixture
async def pg_stub(pg_container: UsersContainer) -> AsyncIterator[AsyncUserStub]:
    running: ApiServer = await start(pg_container, "127.0.0.1:0")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield user_pb2_grpc.UserServiceStub(channel)
    await running.stop(0)


async def count(container: UsersContainer, table: object) -> int:
    async with container.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]


async def test_100_concurrent_creates_with_one_request_id_create_one_user(
    pg_stub: AsyncUserStub, pg_container: UsersContainer
) -> None:
    request = user_pb2.CreateUserRequest(
        user=user_pb2.User(display_name="Once", email="once@example.com"),
        request_id=str(uuid.uuid4()),
    )
    responses = await asyncio.gather(*(pg_stub.CreateUser(request) for _ in range(100)))
    assert len({response.SerializeToString() for response in responses}) == 1
    assert await count(pg_container, users) == 1
    assert await count(pg_container, outbox) == 1
    assert await count(pg_container, idempotency) == 1


async def test_concurrent_updates_with_one_etag_exactly_one_wins(
    pg_stub: AsyncUserStub, pg_container: UsersContainer
) -> None:
    user = await pg_stub.CreateUser(
        user_pb2.CreateUserRequest(
            user=user_pb2.User(display_name="Race", email="race@example.com")
        )
    )

    async def update(i: int) -> grpc.StatusCode:
        try:
            await pg_stub.UpdateUser(
                user_pb2.UpdateUserRequest(
                    user=user_pb2.User(name=user.name, display_name=f"Winner {i}", etag=user.etag)
                )
            )
        except grpc.aio.AioRpcError as exc:
            details = details_of(exc)
            assert details.reason == "ETAG_MISMATCH"
            return details.code
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(update(i) for i in range(20)))
    assert codes.count(grpc.StatusCode.OK) == 1
    assert codes.count(grpc.StatusCode.ABORTED) == 19
    assert await count(pg_container, outbox) == 2  # UserCreated + exactly one UserUpdated


@pytest.mark.parametrize("grouped", [False, True], ids=["alone", "group commit"])
async def test_an_outbox_failure_rolls_back_the_user_row(
    pg_container: UsersContainer, grouped: bool
) -> None:
    # Every event gets the same id, so the second change's outbox insert violates the
    # outbox's unique event id: the user row of that transaction must vanish with it.
    group = GroupCommit(pg_container.engine) if grouped else None
    handlers = UserHandlers(
        lambda: SqlUnitOfWork(pg_container.engine, encode_event, utc_now, group=group),
        PageTokenCodec(b"k" * 32),
        event_id_factory=lambda: "00000000-0000-0000-0000-000000000000",
    )
    try:
        await handlers.create_user(commands.CreateUser(display_name="A", email="a@example.com"))
        with pytest.raises(Exception, match="uq_outbox_event_id"):
            await handlers.create_user(commands.CreateUser(display_name="B", email="b@example.com"))
    finally:
        if group is not None:
            await group.close()
    if group is not None:
        assert group.statements == 2  # both went through the group commit
    assert await count(pg_container, users) == 1
    assert await count(pg_container, outbox) == 1


async def test_an_encoder_failure_leaves_neither_row_nor_event(
    pg_container: UsersContainer,
) -> None:
    def broken_encoder(event: object) -> tuple[str, bytes]:
        raise RuntimeError("encoder exploded")

    handlers = UserHandlers(
        lambda: SqlUnitOfWork(pg_container.engine, broken_encoder, utc_now),
        PageTokenCodec(b"k" * 32),
    )
    with pytest.raises(RuntimeError, match="encoder exploded"):
        await handlers.create_user(commands.CreateUser(display_name="A", email="a@example.com"))
    assert await count(pg_container, users) == 0
    assert await count(pg_container, outbox) == 0


async def test_unreachable_database_is_service_unavailable() -> None:
    from tests.support.ports import free_port

    dead = make_settings(
        f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/none",
        database={"health_interval_seconds": 0.2, "pool_timeout_seconds": 1},
    )
    built = bootstrap(dead)
    try:
        with pytest.raises(ServiceUnavailable):
            await built.handlers.get_user(commands.GetUser("someone"))
        with pytest.raises(ServiceUnavailable):  # a create commits through the group commit
            await built.handlers.create_user(commands.CreateUser(display_name="A", email="a@x.org"))
    finally:
        await built.close()


async def test_expired_request_ids_are_forgotten_and_recent_ones_kept(
    pg_container: UsersContainer,
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from usersuite.platform.db.maintenance import purge_request_ids

    for i in range(5):
        await pg_container.handlers.create_user(
            commands.CreateUser(
                display_name="R", email=f"r{i}@example.com", request_id=str(uuid.uuid4())
            )
        )
    async with pg_container.engine.begin() as conn:
        old = datetime.now(UTC) - timedelta(hours=30)
        ids = (await conn.execute(select(idempotency.c.request_id))).scalars().all()
        await conn.execute(
            update(idempotency).where(idempotency.c.request_id.in_(ids[:3])).values(create_time=old)
        )
    purged = await purge_request_ids(
        pg_container.engine, datetime.now(UTC) - timedelta(hours=24), batch=2
    )
    assert purged == 3
    assert await count(pg_container, idempotency) == 2
    assert await count(pg_container, users) == 5
