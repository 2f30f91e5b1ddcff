"""Several relays side by side, and the check that counts: each event once, in per-user order."""

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from nats.aio.client import Client

from tests.support.events import stream_messages
from tests.support.postgres import conninfo
from tests.support.relaying import InProcessBridge
from tests.support.settings import relay_settings
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually
from user.v1 import events_pb2
from usersuite.platform.service.errors import ServiceUnavailable
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

# Short intervals for replicas in a test: rebalances and retries within a fraction of a second.
QUICK = {"rebalance_interval_seconds": 0.2, "batch_size": 50, "backoff_max_seconds": 1.0}


async def shared(running: list[InProcessBridge]) -> bool:
    """Every one of the 16 partitions is relayed, and no replica has more than its fair share."""
    for replica in running:
        replica.assert_running()
    held = [replica.partitions for replica in running]
    return sum(held) == 16 and max(held) <= -(-16 // len(running))


async def holds(replica: InProcessBridge, partitions: float) -> bool:
    """The replica is running and holds exactly that many partitions."""
    replica.assert_running()
    return replica.partitions == partitions


@contextlib.asynccontextmanager
async def replicas(
    count: int, database_url: str, nats_urls: list[str], **bridge: Any
) -> AsyncIterator[list[InProcessBridge]]:
    """`count` relays; replica i connects to NATS through nats_urls[i % len(nats_urls)]."""
    started: list[InProcessBridge] = []
    try:
        for i in range(count):
            settings = relay_settings(database_url, nats_urls[i % len(nats_urls)], **bridge)
            started.append(await InProcessBridge.start(settings))
        yield started
    finally:
        await asyncio.gather(*(replica.stop() for replica in started), return_exceptions=True)


class Writer:
    """Creates users, then updates them round-robin, one change at a time, until stopped.

    A change that fails because PostgreSQL is unavailable did not commit and is tried again.
    """

    def __init__(self, handlers: UserHandlers, users: int = 20, pause: float = 0.01) -> None:
        self._handlers = handlers
        self._users = users
        self._pause = pause
        self._stopping = asyncio.Event()
        self.written = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        ids = []
        for i in range(self._users):
            user = await self._handlers.create_user(
                commands.CreateUser(display_name=f"R {i}", email=f"r{i}@w{id(self)}.example.com")
            )
            ids.append(user.id)
            self.written += 1
        n = 0
        while not self._stopping.is_set():
            change = {"display_name": f"N {n}"}
            try:
                await self._handlers.update_user(commands.UpdateUser(ids[n % len(ids)], change))
            except ServiceUnavailable:
                await asyncio.sleep(0.1)
                continue
            self.written += 1
            n += 1
            await asyncio.sleep(self._pause)

    async def past(self, n: int) -> bool:
        """More than `n` events written; raises what stopped the writer."""
        if self._task.done():
            self._task.result()
            raise AssertionError("the writer stopped")
        return self.written > n

    async def stop(self) -> int:
        self._stopping.set()
        await self._task
        return self.written


@contextlib.asynccontextmanager
async def writing(handlers: UserHandlers, **options: Any) -> AsyncIterator[Writer]:
    writer = Writer(handlers, **options)
    try:
        yield writer
    finally:
        await writer.stop()


async def written(url: str) -> dict[str, list[str]]:
    """Each user's event ids in the order they were written (aggregate_version order)."""
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cursor = await conn.execute(
            "SELECT aggregate_name, event_id FROM outbox ORDER BY aggregate_name, aggregate_version"
        )
        by_user: dict[str, list[str]] = defaultdict(list)
        for name, event_id in await cursor.fetchall():
            by_user[name].append(event_id)
        return by_user


def _aggregate(msg: Any) -> str:
    message_type = getattr(events_pb2, msg.headers["ce-type"].rsplit(".", 1)[1])
    return str(message_type.FromString(msg.data).metadata.aggregate_name)


async def stream_holds_all(nc: Client, url: str) -> bool:
    expected = sum(len(ids) for ids in (await written(url)).values())
    try:
        info = await nc.jetstream().stream_info("USER_V1")
    except Exception:  # the stream has no leader for a moment while a cluster elects one
        return False
    return int(info.state.messages) >= expected


async def assert_once_in_user_order(nc: Client, url: str) -> int:
    """The stream holds every written event exactly once, each user's in written order."""
    by_user = await written(url)
    messages = await stream_messages(nc)
    ids = [msg.headers["ce-id"] for msg in messages]
    repeated = {event_id: n for event_id, n in Counter(ids).items() if n > 1}
    assert not repeated, f"events more than once: {repeated}"
    relayed: dict[str, list[str]] = defaultdict(list)
    for msg in messages:
        relayed[_aggregate(msg)].append(msg.headers["ce-id"])
    assert set(relayed) == set(by_user), "users missing from the stream"
    for user, event_ids in by_user.items():
        assert relayed[user] == event_ids, f"{user}: relayed {relayed[user]}, wrote {event_ids}"
    return len(ids)


async def hand_over_while_writing(
    proxy: TcpProxy, direct: InProcessBridge, handlers: UserHandlers, nc: Client, url: str
) -> int:
    """Cuts the proxied bridge off NATS while users change: the direct bridge must take all 16
    partitions and relay every event, those written after the handover too. Returns how many
    changes were written."""
    proxy.cut()
    async with writing(handlers) as writer:
        await eventually(lambda: holds(direct, 16), within=30, what="all 16 handed over")
        handed_over = writer.written
        await eventually(lambda: writer.past(handed_over + 30), what="writes after it")
    await eventually(lambda: stream_holds_all(nc, url), within=30, what="all relayed")
    return writer.written
