"""The API server in the test's process on a free port, with a channel to it."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from tests.support.settings import make_settings
from usersuite.bootstrap import UsersContainer, bootstrap
from usersuite.platform.grpc.server import ApiServer, start


@dataclass(frozen=True)
class Serving:
    container: UsersContainer
    server: ApiServer

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serving(database_url: str, **overrides: Any) -> AsyncIterator[Serving]:
    """A server on the tests' settings with `overrides`; stopped and closed at the end."""
    container = bootstrap(make_settings(database_url, **overrides))
    try:
        server = await start(container, "127.0.0.1:0")
        try:
            yield Serving(container, server)
        finally:
            await server.stop(0)
    finally:
        await container.close()


@contextlib.asynccontextmanager
async def served_channel(database_url: str, **overrides: Any) -> AsyncIterator[grpc.aio.Channel]:
    """A plaintext channel to a server as `serving` runs it."""
    async with (
        serving(database_url, **overrides) as served,
        grpc.aio.insecure_channel(served.target) as channel,
    ):
        yield channel
