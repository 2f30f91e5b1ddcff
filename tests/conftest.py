"""Shared fixtures: a PostgreSQL cluster per session, migrated databases, servers and NATS."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from nats.aio.client import Client

from tests.support.nats import NatsServer
from tests.support.postgres import Postgres, PostgresCluster
from tests.support.running import running
from tests.support.settings import make_settings
from tests.support.stubs import AsyncUserStub
from user.v1 import user_pb2_grpc
from usersuite.bootstrap import UsersContainer, bootstrap
from usersuite.platform.grpc.server import ApiServer, start
from usersuite.platform.nats.jetstream import connect
from usersuite.users.adapters.db.schema import migrations as migrate


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    external = os.environ.get("USERSUITE_TEST_DATABASE_URL")
    cluster = None if external else PostgresCluster().start()
    server = Postgres(cluster.url() if cluster else str(external))
    try:
        yield server
    finally:
        server.close()
        if cluster is not None:
            cluster.remove()


@pytest.fixture
def pg_url(postgres: Postgres) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture
def own_cluster() -> Iterator[tuple[PostgresCluster, str]]:
    """A cluster of the test's own and a migrated database on it, for tests that stop or
    restart PostgreSQL."""
    with running(PostgresCluster()) as cluster:
        yield cluster, Postgres(cluster.url()).new_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'usersuite.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on PostgreSQL and once on SQLite."""
    name = "pg_url" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def container(db_url: str) -> AsyncIterator[UsersContainer]:
    built = bootstrap(make_settings(db_url))
    yield built
    await built.close()


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[UsersContainer]:
    """The API's composition on a fresh PostgreSQL database, to make events with its handlers."""
    built = bootstrap(make_settings(pg_url))
    yield built
    await built.close()


@pytest.fixture
async def server(container: UsersContainer) -> AsyncIterator[ApiServer]:
    running = await start(container, "127.0.0.1:0")
    yield running
    await running.stop(0)


@pytest.fixture
async def channel(server: ApiServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> AsyncUserStub:
    return user_pb2_grpc.UserServiceStub(channel)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream for one test (its own port and store)."""
    with running(NatsServer()) as server:
        yield server


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    """A client of the test's nats-server, to read what landed in JetStream."""
    client = await connect(nats_server.url, "test-reader", first_attempts=5)
    yield client
    await client.close()


@pytest.fixture
def billing_pg_url(postgres: Postgres) -> Iterator[str]:
    """A fresh PostgreSQL database migrated by billing's own history."""
    from tests.support.billing import billing_database

    url = billing_database(postgres)
    yield url
    postgres.drop_database(url)
