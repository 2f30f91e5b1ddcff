"""The standard health service follows the database and goes NOT_SERVING on shutdown."""

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.postgres import PostgresCluster
from tests.support.settings import make_settings
from tests.support.status import details_of
from tests.support.waiting import eventually
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import bootstrap
from usersuite.platform.grpc.server import ApiServer, start

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICES = ("", "user.v1.UserService")


async def wait_for_status(health: health_pb2_grpc.HealthStub, service: str, want: int) -> None:
    async def reached() -> bool:
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        return bool(response.status == want)

    await eventually(reached, within=15, what=f"health of {service!r} to be {want}")


async def test_health_follows_the_database(own_cluster: tuple[PostgresCluster, str]) -> None:
    cluster, url = own_cluster
    container = bootstrap(
        make_settings(url, database={"health_interval_seconds": 0.2, "pool_timeout_seconds": 1})
    )
    server = await start(container, "127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            stub = user_pb2_grpc.UserServiceStub(channel)
            for service in SERVICES:
                await wait_for_status(health, service, SERVING)

            await asyncio.to_thread(cluster.stop)
            for service in SERVICES:
                await wait_for_status(health, service, NOT_SERVING)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetUser(user_pb2.GetUserRequest(name="users/someone"))
            details = details_of(caught.value)
            assert details.code == grpc.StatusCode.UNAVAILABLE
            assert details.reason == "SERVICE_UNAVAILABLE"
            assert details.retry_delay_seconds is not None
            assert details.retry_delay_seconds > 0

            await asyncio.to_thread(cluster._pg_ctl, "start")
            for service in SERVICES:
                await wait_for_status(health, service, SERVING)
            created = await stub.CreateUser(
                user_pb2.CreateUserRequest(
                    user=user_pb2.User(display_name="Back", email="back@example.com")
                )
            )
            assert created.name
    finally:
        await server.stop(0)
        await container.close()


@pytest.fixture
async def watched_server(
    pg_url: str,
) -> AsyncIterator[tuple[ApiServer, health_pb2_grpc.HealthStub]]:
    container = bootstrap(make_settings(pg_url))
    server = await start(container, "127.0.0.1:0")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield server, health_pb2_grpc.HealthStub(channel)
    await container.close()


async def test_health_is_not_serving_as_soon_as_shutdown_starts(
    watched_server: tuple[ApiServer, health_pb2_grpc.HealthStub],
) -> None:
    server, health = watched_server
    await wait_for_status(health, "user.v1.UserService", SERVING)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="user.v1.UserService"))
    assert (await watch.read()).status == SERVING
    stopping = asyncio.create_task(server.stop(2))
    assert (await asyncio.wait_for(watch.read(), timeout=5)).status == NOT_SERVING
    await stopping
