"""The outbox relay against real PostgreSQL and a real nats-server with JetStream."""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from tests.support.events import (
    make_history,
    relay_settings,
    stream_count,
    stream_messages,
    wait_until,
)
from tests.support.nats import NatsServer
from user.v1 import events_pb2
from usersuite.adapters.db.tables import outbox
from usersuite.adapters.nats.jetstream import StreamConflict, connect
from usersuite.bootstrap import BridgeContainer, Container, bootstrap_bridge
from usersuite.service import commands

pytestmark = pytest.mark.integration


class Running:
    def __init__(self, container: BridgeContainer) -> None:
        self.container = container
        self.stopping = asyncio.Event()
        self.task = asyncio.create_task(container.relay.run(self.stopping))

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.wait_for(self.task, 30)
        await self.container.close()


@pytest.fixture
async def start_bridge(nats_server: NatsServer) -> AsyncIterator[object]:
    running: list[Running] = []

    async def start(db_url: str, **bridge: object) -> Running:
        settings = relay_settings(db_url, nats_server.url, **bridge)
        bridge_run = Running(await bootstrap_bridge(settings))  # type: ignore[arg-type]
        running.append(bridge_run)
        return bridge_run

    yield start
    for bridge_run in running:
        if not bridge_run.task.done():
            await bridge_run.stop()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[object]:
    client = await connect(nats_server.url, "test-reader", first_attempts=5)
    yield client
    await client.close()


def decode(msg: object) -> object:
    event_type = msg.headers["ce-type"]  # type: ignore[attr-defined]
    return getattr(events_pb2, event_type.rsplit(".", 1)[1]).FromString(msg.data)  # type: ignore[attr-defined]


async def test_every_event_is_published_once_in_order_with_its_headers(
    api: Container, pg_url: str, start_bridge: object, nc: object
) -> None:
    ids = await make_history(api.handlers, users=5, updates=3)
    await start_bridge(pg_url)  # type: ignore[operator]
    await wait_until(lambda: _count_is(nc, 20), what="20 events in the stream")
    messages = await stream_messages(nc)  # type: ignore[arg-type]
    versions: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        headers = msg.headers
        assert msg.subject == headers["ce-type"]
        assert msg.subject.startswith("user.v1.")
        assert headers["Nats-Msg-Id"] == headers["ce-id"]
        assert headers["ce-specversion"] == "1.0"
        assert headers["content-type"] == "application/protobuf"
        assert headers["ce-source"]
        assert headers["ce-time"].endswith("Z")
        event = decode(msg)
        assert event.metadata.event_id == headers["ce-id"]  # type: ignore[attr-defined]
        assert headers["ce-subject"] == event.metadata.aggregate_name  # type: ignore[attr-defined]
        versions[event.metadata.aggregate_name].append(event.metadata.aggregate_version)  # type: ignore[attr-defined]
    assert set(versions) == {f"users/{i}" for i in ids}
    assert all(v == [1, 2, 3, 4] for v in versions.values()), versions
    async with api.engine.connect() as conn:
        states = {row.state for row in await conn.execute(select(outbox.c.state))}
    assert states == {"dispatched"}


async def _count_is(nc: object, n: int) -> bool:
    return await stream_count(nc) == n  # type: ignore[arg-type]


async def test_a_late_committing_transaction_is_not_skipped(
    api: Container, pg_url: str, start_bridge: object, nc: object
) -> None:
    await start_bridge(pg_url)  # type: ignore[operator]
    plain = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(plain) as slow:
        # The slow transaction takes its outbox sequence value first, commits last.
        await slow.execute(
            "INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name, "
            "aggregate_version, payload, occurred_time) VALUES "
            "('00000000-0000-0000-0000-00000000000a', 'user.v1.UserDeleted', 'user.v1.User', "
            "'users/slow-user', 2, %s, now())",
            (events_pb2.UserDeleted(name="users/slow-user").SerializeToString(),),
        )
        ids = await make_history(api.handlers, users=3, updates=0)
        await wait_until(lambda: _count_is(nc, 3), what="the fast events")
        await slow.commit()
    await wait_until(lambda: _count_is(nc, 4), what="the late event")
    messages = await stream_messages(nc)  # type: ignore[arg-type]
    assert messages[-1].headers["ce-id"] == "00000000-0000-0000-0000-00000000000a"
    assert len(ids) == 3


def _partitions(bridge: Running) -> float:
    return bridge.container.relay._metrics.partitions._value.get()  # type: ignore[no-any-return]


async def test_two_bridges_share_the_partitions_and_one_takes_over_when_the_other_stops(
    api: Container, pg_url: str, start_bridge: object, nc: object
) -> None:
    first = await start_bridge(pg_url, batch_size=7, rebalance_interval_seconds=0.2)  # type: ignore[operator]
    second = await start_bridge(pg_url, batch_size=7, rebalance_interval_seconds=0.2)  # type: ignore[operator]

    async def shared() -> bool:
        return [_partitions(first), _partitions(second)] == [8, 8]

    await wait_until(shared, what="16 partitions shared 8 and 8")
    await make_history(api.handlers, users=10, updates=4)
    await wait_until(lambda: _count_is(nc, 50), what="50 events")
    # One stops; the other takes its partitions over and relays what comes next.
    await first.stop()

    async def all_taken() -> bool:
        return _partitions(second) == 16

    await wait_until(all_taken, what="the other bridge to take every partition")
    await make_history_more(api)
    await wait_until(lambda: _count_is(nc, 51), what="the late event")
    messages = await stream_messages(nc)  # type: ignore[arg-type]
    assert len({m.headers["ce-id"] for m in messages}) == len(messages) == 51
    versions: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        event = decode(msg)
        versions[event.metadata.aggregate_name].append(event.metadata.aggregate_version)  # type: ignore[attr-defined]
    assert all(v == sorted(v) for v in versions.values())


async def make_history_more(api: Container) -> None:
    late = commands.CreateUser(display_name="Late", email="late@example.com")
    await api.handlers.create_user(late)


async def test_a_poison_event_is_parked_while_others_flow_and_retry_resends_it(
    api: Container, pg_url: str, nats_server: NatsServer, nc: object
) -> None:
    from usersuite.adapters.db import outbox_store

    poisoned_id, _ = await make_history(api.handlers, users=2, updates=0)
    async with api.engine.begin() as conn:
        first = (await conn.execute(select(outbox.c.seq).order_by(outbox.c.seq))).scalars().first()
        poison = update(outbox).where(outbox.c.seq == first).values(payload=b"x" * 10_000)
        await conn.execute(poison)
    await make_history_more(api)
    # A later event of the poisoned user must wait behind the parked one, not overtake it.
    await api.handlers.update_user(commands.UpdateUser(poisoned_id, {"display_name": "After"}))

    # The stream takes at most 4 KiB per message, so JetStream rejects the poison event.
    settings = relay_settings(pg_url, nats_server.url, max_attempts=3)
    small = settings.model_copy(update={"stream": settings.stream.model_copy(  # type: ignore[attr-defined]
        update={"max_msg_size": 4096})})  # fmt: skip
    running = Running(await bootstrap_bridge(small))
    try:
        await wait_until(lambda: _count_is(nc, 2), what="the healthy events")

        async def parked() -> bool:
            async with api.engine.connect() as conn:
                return len(await outbox_store.list_rows(conn, "parked", 10)) == 1

        await wait_until(parked, what="the poison row to be parked")
        async with api.engine.connect() as conn:
            [row] = await outbox_store.list_rows(conn, "parked", 10)
        assert row.attempts == 3
        assert row.last_error
        assert "maximum" in row.last_error.lower()
        await asyncio.sleep(1)  # several more rounds: the held-back event must stay pending
        assert await stream_count(nc) == 2  # type: ignore[arg-type]
        async with api.engine.connect() as conn:
            [held] = await outbox_store.list_rows(conn, "pending", 10)
        assert held.aggregate_name == f"users/{poisoned_id}"
    finally:
        await running.stop()

    # The operator raises the limit (the default settings update the stream) and re-queues.
    running = Running(await bootstrap_bridge(settings))  # type: ignore[arg-type]
    try:
        async with api.engine.begin() as conn:
            assert await outbox_store.requeue_parked(conn, None) == 1
        await wait_until(lambda: _count_is(nc, 4), what="the re-sent and the held-back events")
    finally:
        await running.stop()
    name = f"users/{poisoned_id}"
    published = [
        m.headers["ce-id"]
        for m in await stream_messages(nc)  # type: ignore[arg-type]
        if m.headers["ce-subject"] == name
    ]
    async with api.engine.connect() as conn:
        query = select(outbox.c.event_id).where(outbox.c.aggregate_name == name)
        committed = (await conn.execute(query.order_by(outbox.c.seq))).scalars().all()
    assert published == list(committed)  # the poisoned user's events in commit order


async def test_an_existing_stream_with_other_subjects_is_refused(
    pg_url: str, nats_server: NatsServer, nc: object
) -> None:
    from nats.js.api import StreamConfig

    await nc.jetstream().add_stream(StreamConfig(name="USER_V1", subjects=["other.>"]))  # type: ignore[attr-defined]
    with pytest.raises(StreamConflict, match="other subjects"):
        await bootstrap_bridge(relay_settings(pg_url, nats_server.url))  # type: ignore[arg-type]


async def test_a_commit_wakes_the_relay_through_listen_notify(
    api: Container, pg_url: str, start_bridge: object, nc: object
) -> None:
    # Polling every 10 minutes: only the NOTIFY of the commit can bring the event out quickly.
    await start_bridge(pg_url, poll_interval_seconds=600)  # type: ignore[operator]
    await asyncio.sleep(0.5)  # the relay's first (empty) round is over; it now waits
    await make_history(api.handlers, users=1, updates=0)
    await wait_until(lambda: _count_is(nc, 1), within=20, what="the event, woken by NOTIFY")


async def test_a_stream_jetstream_refuses_is_a_clear_conflict(
    pg_url: str, nats_server: NatsServer, nc: object
) -> None:
    from nats.js.api import StreamConfig

    # Another stream already captures our subjects under another name.
    await nc.jetstream().add_stream(StreamConfig(name="SOMEONE_ELSE", subjects=["user.>"]))  # type: ignore[attr-defined]
    with pytest.raises(StreamConflict, match="JetStream refused stream USER_V1"):
        await bootstrap_bridge(relay_settings(pg_url, nats_server.url))  # type: ignore[arg-type]
