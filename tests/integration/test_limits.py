"""Deadlines bound the database work; rate limits and message sizes protect the server."""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.postgres import conninfo, lock_waiters, table_locked
from tests.support.serving import served_channel, serving
from tests.support.settings import make_settings
from tests.support.status import details_of
from tests.support.stubs import AsyncUserStub
from tests.support.waiting import Check, eventually, holds, stays_true_for
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import bootstrap
from usersuite.platform.config import AddressInUse
from usersuite.platform.grpc.server import start


async def create_user(stub: AsyncUserStub, display_name: str, email: str) -> user_pb2.User:
    new = user_pb2.User(display_name=display_name, email=email)
    return await stub.CreateUser(user_pb2.CreateUserRequest(user=new))


def no_lock_waiters(url: str) -> Check:
    async def check() -> bool:
        return await lock_waiters(url) == 0

    return check


@pytest.mark.parametrize(
    ("limits", "client_timeout"),
    [
        ({}, 0.5),  # the client's own short deadline
        ({"default_deadline_seconds": 0.5}, None),  # no client deadline: the default applies
        ({"max_deadline_seconds": 0.5, "default_deadline_seconds": 0.5}, 120),  # capped
    ],
)
async def test_a_blocked_query_is_cancelled_server_side_at_the_deadline(
    pg_url: str, limits: dict[str, float], client_timeout: float | None
) -> None:
    async with served_channel(pg_url, limits=limits) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        user = await stub.CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(display_name="Slow", email="s@example.com")
            )
        )
        # Another session holds the user's row lock, so the UpdateUser statement blocks.
        async with await psycopg.AsyncConnection.connect(conninfo(pg_url)) as holder:
            await holder.execute(
                "SELECT * FROM users WHERE id = %s FOR UPDATE", (user.name.split("/")[1],)
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.UpdateUser(
                    user_pb2.UpdateUserRequest(
                        user=user_pb2.User(name=user.name, display_name="Changed")
                    ),
                    timeout=client_timeout,
                )
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            # While the lock is still held, the server's statement must be gone: cancelled
            # server-side, not left waiting for the lock.
            await eventually(no_lock_waiters(pg_url), within=5, what="the statement cancelled")
            assert await lock_waiters(pg_url) == 0
            await holder.rollback()
        unchanged = await stub.GetUser(user_pb2.GetUserRequest(name=user.name))
        assert unchanged.display_name == "Slow"


async def test_deadline_exceeded_carries_error_info_when_the_server_cuts_the_call(
    pg_url: str,
) -> None:
    async with served_channel(pg_url, limits={"default_deadline_seconds": 0.3}) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        user = await create_user(stub, "S", "t@example.com")
        async with table_locked(pg_url, "users") as holder:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetUser(user_pb2.GetUserRequest(name=user.name))
            await holder.rollback()
        details = details_of(caught.value)
        assert (details.code, details.reason) == (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "DEADLINE_EXCEEDED",
        )


async def test_a_call_arriving_with_less_than_the_floor_left_is_refused_at_once(
    sqlite_url: str,
) -> None:
    # A floor far above the client's deadline: the server refuses before any work, with its
    # ErrorInfo, long before the client's own timer could fire.
    limits = {"min_deadline_seconds": 30.0}
    async with served_channel(sqlite_url, limits=limits) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateUser(
                user_pb2.CreateUserRequest(
                    user=user_pb2.User(display_name="Hasty", email="h@example.com")
                ),
                timeout=20,
            )
        details = details_of(caught.value)
        assert (details.code, details.reason) == (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "DEADLINE_EXCEEDED",
        )
        assert "less than the 30000 ms any call needs" in (caught.value.details() or "")
        listed = await stub.ListUsers(user_pb2.ListUsersRequest(), timeout=None)
        assert list(listed.users) == []  # nothing was created


async def test_rate_limit_per_principal_is_resource_exhausted_with_retry_info(
    sqlite_url: str,
) -> None:
    limits = {"principal_rate_per_second": 1.0, "principal_burst": 3}
    async with served_channel(sqlite_url, limits=limits) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        outcomes = []
        for _ in range(6):
            try:
                await stub.ListUsers(user_pb2.ListUsersRequest())
                outcomes.append("ok")
            except grpc.aio.AioRpcError as exc:
                details = details_of(exc)
                assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert details.reason == "RATE_LIMITED"
                assert details.metadata == {"limit": "principal"}
                assert details.retry_delay_seconds is not None
                assert 0 < details.retry_delay_seconds <= 1.0
                outcomes.append("limited")
        assert outcomes[:3] == ["ok", "ok", "ok"]
        assert "limited" in outcomes[3:]


async def test_global_rate_limit(sqlite_url: str) -> None:
    limits = {"global_rate_per_second": 1.0, "global_burst": 2}
    async with served_channel(sqlite_url, limits=limits) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        await stub.ListUsers(user_pb2.ListUsersRequest())
        await stub.ListUsers(user_pb2.ListUsersRequest())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListUsers(user_pb2.ListUsersRequest())
        assert details_of(caught.value).metadata == {"limit": "global"}
        # Probes are never rate limited: Kubernetes must see SERVING under any load.
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(5):
            response = await health.Check(health_pb2.HealthCheckRequest())
            assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_an_oversized_request_is_refused_and_the_server_stays_healthy(
    sqlite_url: str,
) -> None:
    async with served_channel(sqlite_url, limits={"max_message_bytes": 64 * 1024}) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        huge = user_pb2.CreateUserRequest(
            user=user_pb2.User(display_name="x" * (128 * 1024), email="big@example.com")
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateUser(huge)
        details = details_of(caught.value)
        assert (details.code, details.reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "MESSAGE_TOO_LARGE",
        )
        assert details.metadata == {"max_bytes": str(64 * 1024)}
        # Far beyond the limit, grpc's transport stop answers before any handler runs.
        enormous = user_pb2.CreateUserRequest(
            user=user_pb2.User(display_name="x" * (1024 * 1024), email="big@example.com")
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateUser(enormous)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        health = health_pb2_grpc.HealthStub(channel)
        response = await health.Check(health_pb2.HealthCheckRequest(service="user.v1.UserService"))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        created = await stub.CreateUser(
            user_pb2.CreateUserRequest(
                user=user_pb2.User(display_name="Ok", email="ok@example.com")
            )
        )
        assert created.name


async def test_max_concurrent_streams_queues_calls_beyond_the_limit(pg_url: str) -> None:
    async with served_channel(pg_url, limits={"max_concurrent_streams": 1}) as channel:
        stub = user_pb2_grpc.UserServiceStub(channel)
        user = await create_user(stub, "Q", "q@example.com")
        async with table_locked(pg_url, "users") as holder:
            finished: list[str] = []
            blocked = asyncio.ensure_future(stub.GetUser(user_pb2.GetUserRequest(name=user.name)))
            blocked.add_done_callback(lambda _: finished.append("blocked"))

            async def first_call_waits_for_the_lock() -> bool:
                return await lock_waiters(pg_url) > 0

            await eventually(
                first_call_waits_for_the_lock, within=10, what="the first call at the database"
            )
            # The connection's only stream is taken: a second call waits instead of running.
            # (Health needs no database, so only the stream limit can hold it back.)
            health = health_pb2_grpc.HealthStub(channel)
            second = asyncio.ensure_future(health.Check(health_pb2.HealthCheckRequest()))
            second.add_done_callback(lambda _: finished.append("second"))

            async def second_waits() -> bool:
                assert not second.done(), "the second call ran although the stream limit is 1"
                return True

            await stays_true_for(second_waits, what="the second call queued behind the first")
            await holder.rollback()
        assert (await blocked).name == user.name
        assert (await second).status == health_pb2.HealthCheckResponse.SERVING
        # The second call got the stream only once the first had given it back.
        assert finished == ["blocked", "second"]


# Connects, makes one call, then idles (pinging every argv[2] ms) until it is terminated.
PINGING_CLIENT = """
import asyncio, sys, grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
options = [("grpc.keepalive_time_ms", int(sys.argv[2])),
           ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)]
async def main():
    async with grpc.aio.insecure_channel(sys.argv[1], options=options) as channel:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        print("called", flush=True)
        await asyncio.Event().wait()
asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def pinging_client(port: int, keepalive_ms: int) -> AsyncIterator[list[str]]:
    """A client process that pings every `keepalive_ms` while idle; yields its grpc core log
    (its output lines, growing as it runs) and terminates it at the end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PINGING_CLIENT, f"127.0.0.1:{port}", str(keepalive_ms),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []

    async def collect(stream: asyncio.StreamReader) -> None:
        async for line in stream:
            lines.append(line.decode())

    reader = asyncio.create_task(collect(process.stdout))
    try:
        await eventually(holds(lambda: "called\n" in lines), what="the client's first call")
        yield lines
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
        await asyncio.wait_for(reader, timeout=30)


def goaway(log: list[str]) -> bool:
    """The client's log tells of a GOAWAY for too many pings."""
    return "too_many_pings" in "".join(log)


async def test_keepalive_enforcement_sends_goaway_to_clients_that_ping_too_often(
    sqlite_url: str,
) -> None:
    async with serving(sqlite_url) as served:
        async with pinging_client(served.server.port, keepalive_ms=100) as log:
            await eventually(holds(lambda: goaway(log)), what="a GOAWAY for too many pings")
            assert "too_many_pings" in "".join(log)
        async with pinging_client(served.server.port, keepalive_ms=60_000) as log:
            await stays_true_for(
                holds(lambda: not goaway(log)), what="no GOAWAY for a polite client"
            )
            assert "too_many_pings" not in "".join(log)


async def test_a_taken_port_is_refused_not_shared(sqlite_url: str) -> None:
    async with serving(sqlite_url) as first:
        second = bootstrap(make_settings(sqlite_url))
        try:
            with pytest.raises(AddressInUse, match="gRPC"):
                await start(second, first.target)
        finally:
            await second.close()
