"""The consumer never strands a message, and forgets old inbox rows, on real PostgreSQL and NATS."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.support.events import STREAM, stream_has
from tests.support.nats import NatsServer
from tests.support.relaying import relayed_history
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.config import StreamSettings
from usersuite.platform.consumer import (
    DLQ_DELIVERIES,
    Consumer,
    ConsumerSettings,
    Event,
    create_inbox,
    inbox,
)
from usersuite.platform.db.inbox import purge_inbox
from usersuite.platform.nats.jetstream import ensure_stream

DLQ = "USER_V1_DLQ"


@pytest.fixture
async def downstream(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(pg_url)
    await create_inbox(engine)
    yield engine
    await engine.dispose()


class AlwaysFails:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, event: Event, conn: AsyncConnection) -> None:
        self.calls += 1
        raise RuntimeError(f"cannot handle {event.event_id}")


async def test_a_message_whose_dead_letter_fails_is_retried_until_the_dlq_accepts_it(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=1, updates=0)
    settings = ConsumerSettings(
        durable="stranded", max_deliver=2, backoff_seconds=(0.05, 0.1),
        fetch_timeout_seconds=0.2, publish_timeout_seconds=0.5,
    )  # fmt: skip
    handler = AlwaysFails()
    consumer = Consumer(nc, downstream, handler, settings)
    await consumer.start()
    # The dead-letter stream goes away: its publishes find no stream to take them.
    await nc.jetstream().delete_stream(DLQ)
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    try:

        async def delivered_at_least(n: int) -> bool:
            info = await nc.jetstream().consumer_info(STREAM, "stranded")
            return int(info.delivered.consumer_seq) >= n and int(info.num_ack_pending) == 1

        # Far past max_deliver (and the old spare delivery): still not given up on.
        await eventually(lambda: delivered_at_least(6), what="deliveries past max_deliver")
        assert handler.calls == 2
        await ensure_stream(nc.jetstream(), settings.dead_letter)
        await eventually(lambda: stream_has(nc, 1, DLQ), what="the dead letter")

        async def settled() -> bool:
            info = await nc.jetstream().consumer_info(STREAM, "stranded")
            return int(info.num_ack_pending) == 0 and int(info.num_pending) == 0

        await eventually(settled, what="the message terminated")
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
    assert handler.calls == 2
    dead = await nc.jetstream().get_msg(DLQ, 1)
    assert dead.headers is not None
    assert int(dead.headers[DLQ_DELIVERIES]) > 6


async def inbox_ids(engine: AsyncEngine, consumer: str) -> set[str]:
    query = select(inbox.c.event_id).where(inbox.c.consumer == consumer)
    async with engine.connect() as conn:
        return set((await conn.execute(query)).scalars())


async def fill_inbox(engine: AsyncEngine, consumer: str, ages_hours: list[float]) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            inbox.insert(),
            [
                {"consumer": consumer, "event_id": f"{consumer}-{i}",
                 "received_time": now - timedelta(hours=age)}
                for i, age in enumerate(ages_hours)
            ],
        )  # fmt: skip


async def test_old_inbox_rows_are_purged_in_batches_and_only_the_consumers_own(
    downstream: AsyncEngine, nc: Client, nats_server: NatsServer
) -> None:
    await fill_inbox(downstream, "billing", [200.0] * 7 + [1.0, 2.0])
    await fill_inbox(downstream, "audit", [200.0] * 2)
    cutoff = datetime.now(UTC) - timedelta(hours=168)
    assert await purge_inbox(downstream, "billing", cutoff, batch=3) == 7
    assert await inbox_ids(downstream, "billing") == {"billing-7", "billing-8"}
    assert len(await inbox_ids(downstream, "audit")) == 2

    # A running consumer purges its own on its interval.
    await ensure_stream(nc.jetstream(), StreamSettings())
    await fill_inbox(downstream, "janitor", [200.0] * 5 + [0.5])
    settings = ConsumerSettings(
        durable="janitor", fetch_timeout_seconds=0.2, inbox_retention_hours=24.0,
        inbox_purge_interval_seconds=0.2, inbox_purge_batch_size=2,
    )  # fmt: skip
    consumer = Consumer(nc, downstream, AlwaysFails(), settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    try:

        async def purged() -> bool:
            return await inbox_ids(downstream, "janitor") == {"janitor-5"}

        await eventually(purged, what="the consumer's purge")
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
    async with downstream.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(inbox))).scalar_one()
    assert total == 5  # billing 2, audit 2, janitor 1
