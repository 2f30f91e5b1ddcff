"""Shared fixtures: a real PostgreSQL cluster per test session, migrated databases, servers."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.nats import NatsServer
from tests.support.postgres import PostgresCluster
from user.v1 import user_pb2_grpc
from usersuite.adapters.db import migrate
from usersuite.api.server import UserServer, start
from usersuite.bootstrap import Container, bootstrap
from usersuite.config import Settings

TEST_PAGE_TOKEN_SECRET = "test-page-token-secret-0123456789abcdef"


class Postgres:
    """Creates databases on the session's server: our own cluster or USERSUITE_TEST_DATABASE_URL."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.template = f"usersuite_template_{uuid.uuid4().hex[:8]}"
        self._execute(f'CREATE DATABASE "{self.template}"')
        migrate.upgrade(self._url(self.template))

    def _url(self, database: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=database)
        return url.render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        plain = make_url(self.admin_url).set(drivername="postgresql")
        with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]

    def new_database(self) -> str:
        name = f"usersuite_test_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self._url(name)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    external = os.environ.get("USERSUITE_TEST_DATABASE_URL")
    cluster = None if external else PostgresCluster().start()
    server = Postgres(external or cluster.url())  # type: ignore[union-attr]
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
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'usersuite.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on PostgreSQL and once on SQLite."""
    name = "pg_url" if request.param == "postgresql" else "sqlite_url"
    return str(request.getfixturevalue(name))


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "page_token_secret": TEST_PAGE_TOKEN_SECRET,
        "listen": "127.0.0.1:0",
        "database": {"health_interval_seconds": 0.2},
        "shutdown_grace_seconds": 5.0,
        # Tests of other concerns run without credentials; auth tests turn it on.
        "auth": {"enabled": False},
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def container(db_url: str) -> AsyncIterator[Container]:
    built = bootstrap(make_settings(db_url))
    yield built
    await built.close()


@pytest.fixture
async def api(pg_url: str) -> AsyncIterator[Container]:
    """The API's composition on a fresh PostgreSQL database, to make events with its handlers."""
    built = bootstrap(make_settings(pg_url))
    yield built
    await built.close()


@pytest.fixture
async def server(container: Container) -> AsyncIterator[UserServer]:
    running = await start(container, "127.0.0.1:0")
    yield running
    await running.stop(0)


@pytest.fixture
async def channel(server: UserServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> user_pb2_grpc.UserServiceStub:
    return user_pb2_grpc.UserServiceStub(channel)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream for one test (its own port and store)."""
    server = NatsServer().start()
    try:
        yield server
    finally:
        server.remove()
