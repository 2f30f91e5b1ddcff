"""The honest baseline (issue 18): what a user would write by hand instead of usersuite, a bare
grpc.aio servicer that runs the same SQL on a psycopg connection pool; no auth, no interceptors,
no ORM, no validation beyond what the SQL needs.

Run as `python -m bench.minimal DATABASE_URL POOL_SIZE`; prints `minimal ready on
127.0.0.1:PORT` and serves until SIGTERM. The database is one `usersuite migrate` made.
"""

import asyncio
import sys
import uuid
import zlib
from datetime import UTC, datetime

import grpc
import psycopg
from google.protobuf.timestamp_pb2 import Timestamp

from bench.ceiling import serve_until_stopped
from user.v1 import events_pb2, user_pb2, user_pb2_grpc

COLUMNS = "id, display_name, email, create_time, update_time, version"
GET_USER = f"SELECT {COLUMNS} FROM users WHERE id = %s"  # noqa: S608 - constant columns
LIST_USERS = f"SELECT seq, {COLUMNS} FROM users WHERE seq > %s ORDER BY seq LIMIT %s"  # noqa: S608
INSERT_USER = (
    "INSERT INTO users (id, display_name, email, create_time, update_time, version)"
    " VALUES (%s, %s, %s, %s, %s, 1)"
)
INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name,"
    " aggregate_version, partition_key, payload, trace_context, principal, occurred_time)"
    " VALUES (%s, 'user.v1.UserCreated', 'user.v1.User', %s, 1, %s, %s, '{}', '', %s)"
)
KEY_MASK = 0x7FFFFFFF


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_user(row: tuple[str, str, str, datetime, datetime, int]) -> user_pb2.User:
    user_id, display_name, email, created, updated, version = row
    return user_pb2.User(
        name=f"users/{user_id}", display_name=display_name, email=email,
        create_time=timestamp(created), update_time=timestamp(updated), etag=f'W/"{version}"',
    )  # fmt: skip


class Pool:
    """The smallest connection pool: N open connections handed out in turn."""

    def __init__(self, connections: list[psycopg.AsyncConnection]) -> None:
        self._free: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
        for conn in connections:
            self._free.put_nowait(conn)

    @classmethod
    async def open(cls, url: str, size: int) -> "Pool":
        conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(size)]
        return cls(conns)

    async def take(self) -> psycopg.AsyncConnection:
        return await self._free.get()

    def give(self, conn: psycopg.AsyncConnection) -> None:
        self._free.put_nowait(conn)


class MinimalServicer(user_pb2_grpc.UserServiceServicer):
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def GetUser(  # noqa: N802 - the generated method name
        self, request: user_pb2.GetUserRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        conn = await self._pool.take()
        try:
            cursor = await conn.execute(GET_USER, (request.name.removeprefix("users/"),))
            row = await cursor.fetchone()
        finally:
            self._pool.give(conn)
        if row is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such user")
        return to_user(row)  # type: ignore[arg-type]

    async def ListUsers(  # noqa: N802 - the generated method name
        self, request: user_pb2.ListUsersRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.ListUsersResponse:
        size = request.page_size or 50
        after = int(request.page_token or 0)
        conn = await self._pool.take()
        try:
            cursor = await conn.execute(LIST_USERS, (after, size + 1))
            rows = await cursor.fetchall()
        finally:
            self._pool.give(conn)
        page = rows[:size]
        token = str(page[-1][0]) if len(rows) > size else ""
        return user_pb2.ListUsersResponse(
            users=[to_user(row[1:]) for row in page], next_page_token=token
        )

    async def CreateUser(  # noqa: N802 - the generated method name
        self, request: user_pb2.CreateUserRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        user_id = request.user_id or uuid.uuid4().hex[:26]
        now = datetime.now(UTC)
        name = f"users/{user_id}"
        row = (user_id, request.user.display_name, request.user.email, now, now, 1)
        user = to_user(row)
        event = events_pb2.UserCreated(
            metadata=events_pb2.EventMetadata(
                event_id=str(uuid.uuid4()), aggregate_name=name, aggregate_version=1
            ),
            user=user,
        )
        conn = await self._pool.take()
        try:
            async with conn.transaction():
                await conn.execute(INSERT_USER, row[:5])
                await conn.execute(
                    INSERT_OUTBOX,
                    (event.metadata.event_id, name,
                     zlib.crc32(name.encode()) & KEY_MASK, event.SerializeToString(), now),
                )  # fmt: skip
        except psycopg.errors.UniqueViolation:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "the user or email exists")
        finally:
            self._pool.give(conn)
        return user


async def main(url: str, pool_size: int) -> None:
    pool = await Pool.open(url.replace("postgresql+psycopg://", "postgresql://", 1), pool_size)
    await serve_until_stopped("minimal", MinimalServicer(pool))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    sys.exit(0)
