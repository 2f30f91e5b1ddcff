"""A downstream consumer as the consumer tests run it: a recording handler, its effects table,
quick retry settings, and what JetStream says has been settled."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.events import STREAM
from usersuite.platform.consumer import (
    Consumer,
    ConsumerSettings,
    inbox,
)
from usersuite.platform.consumer.events import Event

# What a downstream service writes in its handler; no unique key, so a second effect would show.
effects_metadata = MetaData()
effects = Table(
    "consumer_effects",
    effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String, nullable=False),
    Column("event_id", String, nullable=False),
    Column("aggregate_name", String, nullable=False),
)


@asynccontextmanager
async def running(consumer: Consumer) -> AsyncIterator[Consumer]:
    await consumer.start()
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    try:
        yield consumer
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


@dataclass
class Recorder:
    """A handler that writes one effect row per call, failing on the calls `fail` selects."""

    name: str
    fail: Callable[[Event, int], bool] = lambda _event, _call: False
    calls: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event, conn: AsyncConnection) -> None:
        self.calls.append(event)
        await conn.execute(
            effects.insert().values(
                consumer=self.name, event_id=event.event_id, aggregate_name=event.aggregate_name
            )
        )
        if self.fail(event, len([c for c in self.calls if c.event_id == event.event_id])):
            raise RuntimeError(f"handler refused {event.event_id}\nsecond line")


def quick(durable: str, **overrides: Any) -> ConsumerSettings:
    values: dict[str, object] = {
        "durable": durable,
        "max_deliver": 3,
        "ack_wait_seconds": 5.0,
        "backoff_seconds": (0.05, 0.1),
        "fetch_timeout_seconds": 0.2,
        **overrides,
    }
    return ConsumerSettings(**values)


async def effect_rows(engine: AsyncEngine, consumer: str | None = None) -> list[str]:
    query = select(effects.c.event_id)
    if consumer is not None:
        query = query.where(effects.c.consumer == consumer)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def inbox_count(engine: AsyncEngine, consumer: str) -> int:
    query = select(func.count()).select_from(inbox).where(inbox.c.consumer == consumer)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


def settled(nc: Client, durable: str, stream_last_seq: int) -> Callable[[], Awaitable[bool]]:
    """JetStream has delivered everything up to `stream_last_seq` and holds nothing unacked."""

    async def check() -> bool:
        info = await nc.jetstream().consumer_info(STREAM, durable)
        return bool(
            info.delivered.stream_seq >= stream_last_seq
            and info.num_ack_pending == 0
            and info.num_pending == 0
        )

    return check


async def last_seq(nc: Client, stream: str = STREAM) -> int:
    return int((await nc.jetstream().stream_info(stream)).state.last_seq)
