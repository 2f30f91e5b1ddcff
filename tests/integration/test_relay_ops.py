"""Relay operability: retention of dispatched rows, metrics, readiness."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, update

from tests.support.events import make_history, stream_has
from tests.support.nats import NatsServer
from tests.support.settings import make_settings
from tests.support.waiting import eventually, holds
from usersuite.bootstrap import UsersContainer, bootstrap_bridge
from usersuite.platform.db import outbox_store
from usersuite.platform.db.tables import outbox
from usersuite.platform.nats.jetstream import connect
from usersuite.platform.relay.container import BridgeContainer


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


@pytest.fixture
async def bridge(pg_url: str, nats_server: NatsServer) -> AsyncIterator[BridgeContainer]:
    settings = make_settings(
        pg_url,
        nats_url=nats_server.url,
        bridge={"poll_interval_seconds": 0.1, "retention_hours": 1.0,
                "retention_interval_seconds": 0.2, "retention_batch_size": 3},
    )  # fmt: skip
    built = await bootstrap_bridge(settings)
    yield built
    await built.close()


async def test_metrics_count_published_events_and_the_backlog_drains(
    api: UsersContainer, bridge: BridgeContainer, nats_server: NatsServer
) -> None:
    await make_history(api.handlers, users=4, updates=1)
    registry = bridge.registry
    stopping = asyncio.Event()
    task = asyncio.create_task(bridge.relay.run(stopping))
    reader = await connect(nats_server.url, "reader", first_attempts=3)
    try:
        await eventually(lambda: stream_has(reader, 8), what="8 events")

        async def drained() -> bool:
            return sample(registry, "usersuite_outbox_backlog") == 0 and bridge.relay.ready

        await eventually(drained, what="an empty backlog")
        assert sample(registry, "usersuite_outbox_published_total",
                      event_type="user.v1.UserCreated") == 4  # fmt: skip
        assert sample(registry, "usersuite_outbox_published_total",
                      event_type="user.v1.UserUpdated") == 4  # fmt: skip
        assert sample(registry, "usersuite_outbox_publish_seconds_count") == 8
        assert sample(registry, "usersuite_outbox_oldest_pending_age_seconds") == 0
        assert sample(registry, "usersuite_bridge_leader") == 1
        # NATS goes away: the bridge is no longer ready.
        nats_server.stop()
        await eventually(holds(lambda: not bridge.relay.ready), what="not ready without NATS")
        nats_server.start()
        await eventually(holds(lambda: bridge.relay.ready), what="ready again")
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
        await reader.close()


async def test_dispatched_rows_older_than_the_retention_are_deleted_in_batches(
    api: UsersContainer, bridge: BridgeContainer
) -> None:
    await make_history(api.handlers, users=10, updates=0)
    stopping = asyncio.Event()
    task = asyncio.create_task(bridge.relay.run(stopping))
    try:

        async def dispatched() -> bool:
            async with api.engine.connect() as conn:
                backlog = await outbox_store.backlog(conn)
            return backlog.pending == 0

        await eventually(dispatched, what="all rows dispatched")
        # Age seven of the ten dispatched rows past the retention; keep three recent.
        old = datetime.now(UTC) - timedelta(hours=2)
        async with api.engine.begin() as conn:
            seqs = (await conn.execute(select(outbox.c.seq).order_by(outbox.c.seq))).scalars()
            await conn.execute(
                update(outbox).where(outbox.c.seq.in_(list(seqs)[:7])).values(dispatched_time=old)
            )

        async def purged() -> bool:
            async with api.engine.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(outbox)) == 3

        await eventually(purged, what="the old rows to be purged")
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
