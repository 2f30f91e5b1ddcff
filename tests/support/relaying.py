"""The real relay (as `usersuite bridge` runs it) inside the test's process."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from nats.aio.client import Client

from tests.support.events import make_history, stream_has
from tests.support.outbox import all_relayed
from tests.support.settings import relay_settings
from tests.support.waiting import eventually
from usersuite.bootstrap import bootstrap_bridge
from usersuite.platform.config import Settings
from usersuite.platform.relay.container import BridgeContainer
from usersuite.users.service.handlers import UserHandlers

STOP_TIMEOUT = 30.0


class InProcessBridge:
    """A relay task on a bridge's composition; `stop` lets it finish its batch in flight."""

    def __init__(self, container: BridgeContainer) -> None:
        self.container = container
        self.stopping = asyncio.Event()
        self.task = asyncio.create_task(container.relay.run(self.stopping))
        self._closed = False

    @classmethod
    async def start(cls, settings: Settings) -> "InProcessBridge":
        return cls(await bootstrap_bridge(settings))

    @property
    def partitions(self) -> float:
        """How many outbox partitions this relay holds the lock of (its gauge)."""
        return float(self.container.relay._metrics.partitions._value.get())

    def assert_running(self) -> None:
        if self.task.done():
            error = None if self.task.cancelled() else self.task.exception()
            raise AssertionError(f"the relay stopped: {error!r}") from error

    async def relayed(self, nc: Client, url: str, total: int) -> bool:
        """Every one of `total` events is dispatched and in the stream (the relay still runs)."""
        self.assert_running()
        return await all_relayed(nc, url, total)

    async def stop(self) -> None:
        """Stops the relay and closes its composition; raises what the relay raised."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        try:
            await asyncio.wait_for(self.task, STOP_TIMEOUT)
        finally:
            await self.container.close()


@contextlib.asynccontextmanager
async def relaying(
    database_url: str, nats_url: str, **bridge: Any
) -> AsyncIterator[InProcessBridge]:
    """A relay with the tests' quick settings (and `bridge` overrides) until the block ends."""
    running = await InProcessBridge.start(relay_settings(database_url, nats_url, **bridge))
    try:
        yield running
    finally:
        await running.stop()


async def relayed_history(
    handlers: UserHandlers,
    database_url: str,
    nats_url: str,
    nc: Client,
    *,
    users: int,
    updates: int,
) -> list[str]:
    """`make_history`, relayed until the stream holds all of it, then the relay stopped, so that
    what a consumer meets next is exactly this history. Returns the users' ids."""
    events = users * (1 + updates)
    async with relaying(database_url, nats_url):
        ids = await make_history(handlers, users=users, updates=updates)
        await eventually(lambda: stream_has(nc, events), what=f"{events} events in the stream")
    return ids
