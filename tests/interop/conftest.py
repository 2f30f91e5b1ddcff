"""Interop fixtures: one `usersuite serve` on PostgreSQL with authentication on, and a token."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import (
    EmptyDatabases,
    UsersuiteProcess,
    migrate_with_cli,
    serve_args,
    server_env,
)
from usersuite.api.auth.jwt import mint_token

HS256_SECRET = "interop-hs256-secret-0123456789abcdef0123456789"
ISSUER = AUDIENCE = "usersuite"


def auth_env(database_url: str) -> dict[str, str]:
    """A production-mode server environment with JWT authentication on (HS256)."""
    return server_env(
        database_url,
        USERSUITE_AUTH__ENABLED="true",
        USERSUITE_AUTH__HS256_SECRET=HS256_SECRET,
        USERSUITE_AUTH__ISSUER=ISSUER,
        USERSUITE_AUTH__AUDIENCE=AUDIENCE,
    )


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
    """A token with the scopes the scenario needs."""
    return mint_token(
        HS256_SECRET.encode(),
        subject="interop",
        scopes=["users.read", "users.write"],
        issuer=ISSUER,
        audience=AUDIENCE,
    )
