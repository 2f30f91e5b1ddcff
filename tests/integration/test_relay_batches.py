"""One relay transaction over several batches (real PostgreSQL and nats-server): while a batch
publishes, the one before it is marked and the next claimed; a failure stops the batches after
it, whose rows stay pending; nothing is published twice or out of a user's order."""

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from sqlalchemy import func, select, update

from tests.support.events import decode, make_history, stream_messages
from tests.support.nats import NatsServer
from tests.support.settings import relay_settings
from usersuite.bootstrap import UsersContainer, bootstrap_bridge
from usersuite.platform.db.tables import outbox
from usersuite.platform.relay.container import BridgeContainer
from usersuite.platform.relay.relay import BATCHES_PER_TRANSACTION

BATCH = 4


@pytest.fixture
async def bridge(pg_url: str, nats_server: NatsServer) -> AsyncIterator[BridgeContainer]:
    settings = relay_settings(pg_url, nats_server.url, batch_size=BATCH, max_attempts=3)
    # The stream takes at most 4 KiB per message: a bigger payload is rejected.
    small = settings.model_copy(
        update={"stream": settings.stream.model_copy(update={"max_msg_size": 4096})}
    )
    built = await bootstrap_bridge(small)
    yield built
    await built.close()


async def states(api: UsersContainer) -> dict[str, int]:
    async with api.engine.connect() as conn:
        query = select(outbox.c.state, func.count()).group_by(outbox.c.state)
        return {state: count for state, count in (await conn.execute(query)).all()}


async def published_versions(nc: Client) -> dict[str, list[int]]:
    versions: dict[str, list[int]] = {}
    for message in await stream_messages(nc):
        event = decode(message)
        versions.setdefault(event.metadata.aggregate_name, []).append(
            event.metadata.aggregate_version
        )
    return versions


async def test_one_transaction_relays_batch_after_batch_in_order(
    api: UsersContainer, bridge: BridgeContainer, nc: Client
) -> None:
    await make_history(api.handlers, users=5, updates=3)  # 20 events: five full batches
    assert BATCH * BATCHES_PER_TRANSACTION > 20
    async with bridge.engine.connect() as conn:
        result = await bridge.relay.relay_batch(conn, None)
    assert (result.claimed, len(result.acked), result.failures) == (20, 20, [])
    assert await states(api) == {"dispatched": 20}
    versions = await published_versions(nc)
    assert len(versions) == 5
    assert all(found == [1, 2, 3, 4] for found in versions.values()), versions


async def test_a_failure_stops_the_batches_after_it_and_leaves_them_pending(
    api: UsersContainer, bridge: BridgeContainer, nc: Client
) -> None:
    await make_history(api.handlers, users=5, updates=3)
    async with api.engine.begin() as conn:
        seqs = (await conn.execute(select(outbox.c.seq).order_by(outbox.c.seq))).scalars().all()
        poisoned = seqs[BATCH + 1]  # in the second batch
        await conn.execute(
            update(outbox).where(outbox.c.seq == poisoned).values(payload=b"x" * 10_000)
        )
    async with bridge.engine.connect() as conn:
        result = await bridge.relay.relay_batch(conn, None)
    # The first two batches went out (the poisoned event failed); the third, claimed while the
    # second published, was not published and its rows are pending again.
    assert result.claimed == 2 * BATCH
    assert len(result.acked) == 2 * BATCH - 1
    assert [failure.seq for failure in result.failures] == [poisoned]
    assert await states(api) == {"dispatched": 2 * BATCH - 1, "pending": 20 - 2 * BATCH + 1}
    assert sum(map(len, (await published_versions(nc)).values())) == 2 * BATCH - 1
    async with api.engine.connect() as conn:
        attempts = await conn.scalar(select(outbox.c.attempts).where(outbox.c.seq == poisoned))
    assert attempts == 1
