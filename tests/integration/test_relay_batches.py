"""One relay transaction (real PostgreSQL and nats-server): a full batch's successor is claimed
while it publishes and relayed once it is marked; a failure keeps the claimed successor
unpublished and pending; nothing is published twice or out of a user's order."""

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


async def test_one_transaction_relays_a_full_batch_and_the_one_claimed_beside_it(
    api: UsersContainer, bridge: BridgeContainer, nc: Client
) -> None:
    await make_history(api.handlers, users=5, updates=3)  # 20 events: five full batches
    async with bridge.engine.connect() as conn:
        result = await bridge.relay.relay_batch(conn, None)
    assert (result.claimed, len(result.acked), result.failures) == (2 * BATCH, 2 * BATCH, [])
    assert await states(api) == {"dispatched": 2 * BATCH, "pending": 20 - 2 * BATCH}
    versions = await published_versions(nc)
    assert sum(map(len, versions.values())) == 2 * BATCH
    # Each user's events went out as a prefix of its history, in order.
    assert all(found == list(range(1, len(found) + 1)) for found in versions.values()), versions


async def test_a_failure_keeps_the_batch_claimed_beside_it_pending(
    api: UsersContainer, bridge: BridgeContainer, nc: Client
) -> None:
    await make_history(api.handlers, users=5, updates=3)
    async with api.engine.begin() as conn:
        seqs = (await conn.execute(select(outbox.c.seq).order_by(outbox.c.seq))).scalars().all()
        poisoned = seqs[1]  # in the first batch
        await conn.execute(
            update(outbox).where(outbox.c.seq == poisoned).values(payload=b"x" * 10_000)
        )
    async with bridge.engine.connect() as conn:
        result = await bridge.relay.relay_batch(conn, None)
    # The first batch went out but for the poisoned event; the second, claimed while the first
    # published, was not published and its rows are pending again.
    assert result.claimed == BATCH
    assert len(result.acked) == BATCH - 1
    assert [failure.seq for failure in result.failures] == [poisoned]
    assert await states(api) == {"dispatched": BATCH - 1, "pending": 20 - BATCH + 1}
    assert sum(map(len, (await published_versions(nc)).values())) == BATCH - 1
    async with api.engine.connect() as conn:
        attempts = await conn.scalar(select(outbox.c.attempts).where(outbox.c.seq == poisoned))
    assert attempts == 1
