"""Interop fixtures: one `usersuite serve` on PostgreSQL with authentication on, and a token."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import EmptyDatabases, UsersuiteProcess, migrate_with_cli, serve_args
from tests.interop.clients import auth_env, scenario_token


@pytest.fixture(scope="session")
def interop_databases(postgres: Any) -> Iterator[EmptyDatabases]:
    databases = EmptyDatabases(postgres)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def interop_server(
    interop_databases: EmptyDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UsersuiteProcess]:
    """One server every client talks to; each client's run works on users of its own."""
    url = interop_databases.create()
    migrate_with_cli(url)
    workdir = tmp_path_factory.mktemp("interop-server")
    process = UsersuiteProcess(serve_args(), auth_env(url), workdir, workdir)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def token() -> str:
    return scenario_token()
