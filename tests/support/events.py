"""Reading what landed in JetStream, and producing events through the real handlers."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from nats.aio.client import Client

from usersuite.bootstrap import bootstrap_bridge
from usersuite.config import Settings
from usersuite.service import commands
from usersuite.service.handlers import UserHandlers

STREAM = "USER_V1"


async def stream_messages(nc: Client, stream: str = STREAM) -> list[Any]:
    """Every message stored in the stream, in stream order."""
    js = nc.jetstream()
    info = await js.stream_info(stream)
    first, last = info.state.first_seq, info.state.last_seq
    if info.state.messages == 0:
        return []
    return [await js.get_msg(stream, seq) for seq in range(first, last + 1)]


async def wait_until(
    check: Callable[[], Awaitable[bool]], within: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


async def stream_count(nc: Client, stream: str = STREAM) -> int:
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    except Exception:
        return -1


async def make_history(handlers: UserHandlers, users: int, updates: int) -> list[str]:
    """Creates `users` users and updates each `updates` times; returns their ids."""
    ids = []
    for i in range(users):
        user = await handlers.create_user(
            commands.CreateUser(display_name=f"User {i}", email=f"user{i}@example.com")
        )
        ids.append(user.id)
    for round_ in range(updates):
        for user_id in ids:
            await handlers.update_user(
                commands.UpdateUser(user_id, {"display_name": f"Name {round_}"})
            )
    return ids


def relay_settings(db_url: str, nats_url: str, **bridge: object) -> Settings:
    """Settings for a relay that polls and backs off quickly, as tests want."""
    from tests.conftest import make_settings

    values = {"poll_interval_seconds": 0.2, "backoff_initial_seconds": 0.05, **bridge}
    return make_settings(db_url, nats_url=nats_url, bridge=values)


@asynccontextmanager
async def running_relay(db_url: str, nats_url: str) -> AsyncIterator[None]:
    """The real relay (as `usersuite bridge` runs it) until the block ends."""
    container = await bootstrap_bridge(relay_settings(db_url, nats_url))
    stopping = asyncio.Event()
    task = asyncio.create_task(container.relay.run(stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
        await container.close()


async def stream_has(nc: Client, count: int, stream: str = STREAM) -> bool:
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages) == count
    except Exception:
        return False
