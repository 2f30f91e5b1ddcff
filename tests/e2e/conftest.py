"""End-to-end fixtures: empty databases migrated by the CLI, real `usersuite` processes, grpcurl."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.grpcurl import Grpcurl
from tests.support.postgres import EmptyDatabases, Postgres
from tests.support.processes import (
    Launch,
    UsersuiteProcess,
    migrate_with_cli,
    serve_args,
    server_env,
)
from tests.support.tiers import mark_tier
from tests.support.tools import which


@pytest.fixture(scope="session")
def grpcurl_bin() -> str:
    return which("grpcurl")


@pytest.fixture(scope="session")
def session_databases(postgres: Postgres) -> Iterator[EmptyDatabases]:
    databases = EmptyDatabases(postgres)
    yield databases
    databases.drop_all()


@pytest.fixture
def empty_database(postgres: Postgres) -> Iterator[Callable[[], str]]:
    """A factory of empty databases (no schema), dropped after the test."""
    databases = EmptyDatabases(postgres)
    yield databases.create
    databases.drop_all()


@pytest.fixture
def migrated_database(empty_database: Callable[[], str]) -> str:
    """An empty database brought to the current schema by `usersuite migrate`."""
    url = empty_database()
    migrate_with_cli(url)
    return url


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Starts `usersuite` processes; every one is stopped (SIGTERM, then SIGKILL) afterwards."""
    started: list[UsersuiteProcess] = []

    def start(args: list[str], env: dict[str, str], cwd: Path | None = None) -> UsersuiteProcess:
        process = UsersuiteProcess(args, env, cwd or tmp_path, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def shared_server(
    session_databases: EmptyDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UsersuiteProcess]:
    """One server for the tests that only add their own, uniquely named users."""
    url = session_databases.create()
    migrate_with_cli(url)
    workdir = tmp_path_factory.mktemp("shared-server")
    process = UsersuiteProcess(serve_args(), server_env(url), workdir, workdir)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def fresh_server(migrated_database: str, launch: Launch) -> UsersuiteProcess:
    """A server of its own on a freshly migrated, empty database."""
    process = launch(serve_args(), server_env(migrated_database))
    process.wait_ready()
    return process


@pytest.fixture
def grpcurl(grpcurl_bin: str, shared_server: UsersuiteProcess) -> Grpcurl:
    return Grpcurl(grpcurl_bin, shared_server.target)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "e2e")
