"""The outbox relay against real PostgreSQL and a real nats-server with JetStream."""

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig
from sqlalchemy import select, update

from tests.support.events import decode, make_history, stream_count, stream_has, stream_messages
from tests.support.nats import NatsServer
from tests.support.postgres import conninfo
from tests.support.relaying import InProcessBridge
from tests.support.settings import relay_settings
from tests.support.waiting import eventually, stays_true_for
from user.v1 import events_pb2
from usersuite.bootstrap import UsersContainer, bootstrap_bridge
from usersuite.platform.db.tables import outbox
from usersuite.platform.nats.jetstream import StreamConflict
from usersuite.users.service import commands

StartBridge = Callable[..., Awaitable[InProcessBridge]]


@pytest.fixture
async def start_bridge(nats_server: NatsServer) -> AsyncIterator[StartBridge]:
    running: list[InProcessBridge] = []

    async def start(db_url: str, **bridge: Any) -> InProcessBridge:
        started = await InProcessBridge.start(relay_settings(db_url, nats_server.url, **bridge))
        running.append(started)
        return started

    yield start
    for started in running:
        await started.stop()


async def test_every_event_is_published_once_in_order_with_its_headers(
    api: UsersContainer, pg_url: str, start_bridge: StartBridge, nc: Client
) -> None:
    ids = await make_history(api.handlers, users=5, updates=3)
    await start_bridge(pg_url)
    await eventually(lambda: stream_has(nc, 20), what="20 events in the stream")
    messages = await stream_messages(nc)
    versions: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        headers = msg.headers
        assert msg.subject == headers["ce-type"]
        assert msg.subject.startswith("user.v1.")
        assert headers["Nats-Msg-Id"] == headers["ce-id"]
        assert headers["ce-specversion"] == "1.0"
        assert headers["content-type"] == "application/protobuf"
        assert headers["ce-source"] == "//usersuite/user.v1"
        assert headers["ce-time"].endswith("Z")
        event = decode(msg)
        assert event.metadata.event_id == headers["ce-id"]
        assert headers["ce-subject"] == event.metadata.aggregate_name
        versions[event.metadata.aggregate_name].append(event.metadata.aggregate_version)
    assert set(versions) == {f"users/{i}" for i in ids}
    assert all(v == [1, 2, 3, 4] for v in versions.values()), versions

    # JetStream holds an event once it acks the publish; the relay marks the row after the ack.
    async def all_dispatched() -> bool:
        async with api.engine.connect() as conn:
            states = {row.state for row in await conn.execute(select(outbox.c.state))}
        return states == {"dispatched"}

    await eventually(all_dispatched, what="every row marked dispatched")


async def test_a_late_committing_transaction_is_not_skipped(
    api: UsersContainer, pg_url: str, start_bridge: StartBridge, nc: Client
) -> None:
    await start_bridge(pg_url)
    async with await psycopg.AsyncConnection.connect(conninfo(pg_url)) as slow:
        # The slow transaction takes its outbox sequence value first, commits last.
        await slow.execute(
            "INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name, "
            "aggregate_version, payload, occurred_time) VALUES "
            "('00000000-0000-0000-0000-00000000000a', 'user.v1.UserDeleted', 'user.v1.User', "
            "'users/slow-user', 2, %s, now())",
            (events_pb2.UserDeleted(name="users/slow-user").SerializeToString(),),
        )
        ids = await make_history(api.handlers, users=3, updates=0)
        await eventually(lambda: stream_has(nc, 3), what="the fast events")
        await slow.commit()
    await eventually(lambda: stream_has(nc, 4), what="the late event")
    messages = await stream_messages(nc)
    assert messages[-1].headers["ce-id"] == "00000000-0000-0000-0000-00000000000a"
    assert len(ids) == 3


async def test_two_bridges_share_the_partitions_and_one_takes_over_when_the_other_stops(
    api: UsersContainer, pg_url: str, start_bridge: StartBridge, nc: Client
) -> None:
    first = await start_bridge(pg_url, batch_size=7, rebalance_interval_seconds=0.2)
    second = await start_bridge(pg_url, batch_size=7, rebalance_interval_seconds=0.2)

    async def shared() -> bool:
        return [first.partitions, second.partitions] == [8, 8]

    await eventually(shared, what="16 partitions shared 8 and 8")
    await make_history(api.handlers, users=10, updates=4)
    await eventually(lambda: stream_has(nc, 50), what="50 events")
    # One stops; the other takes its partitions over and relays what comes next.
    await first.stop()

    async def all_taken() -> bool:
        return second.partitions == 16

    await eventually(all_taken, what="the other bridge to take every partition")
    await make_history_more(api)
    await eventually(lambda: stream_has(nc, 51), what="the late event")
    messages = await stream_messages(nc)
    assert len({m.headers["ce-id"] for m in messages}) == len(messages) == 51
    versions: dict[str, list[int]] = defaultdict(list)
    for msg in messages:
        event = decode(msg)
        versions[event.metadata.aggregate_name].append(event.metadata.aggregate_version)
    assert all(v == sorted(v) for v in versions.values())


async def make_history_more(api: UsersContainer) -> None:
    late = commands.CreateUser(display_name="Late", email="late@example.com")
    await api.handlers.create_user(late)


async def test_a_poison_event_is_parked_while_others_flow_and_retry_resends_it(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    from usersuite.platform.db import outbox_store

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
    small = settings.model_copy(update={"stream": settings.stream.model_copy(
        update={"max_msg_size": 4096})})  # fmt: skip
    running = await InProcessBridge.start(small)
    try:
        await eventually(lambda: stream_has(nc, 2), what="the healthy events")

        async def parked() -> bool:
            async with api.engine.connect() as conn:
                return len(await outbox_store.list_rows(conn, "parked", 10)) == 1

        await eventually(parked, what="the poison row to be parked")
        async with api.engine.connect() as conn:
            [row] = await outbox_store.list_rows(conn, "parked", 10)
        assert row.attempts == 3
        assert row.last_error
        assert "maximum" in row.last_error.lower()
        # Several more rounds: the held-back event must stay pending.
        await stays_true_for(lambda: stream_has(nc, 2), what="the held-back event unpublished")
        assert await stream_count(nc) == 2
        async with api.engine.connect() as conn:
            [held] = await outbox_store.list_rows(conn, "pending", 10)
        assert held.aggregate_name == f"users/{poisoned_id}"
    finally:
        await running.stop()

    # The operator raises the limit (the default settings update the stream) and re-queues.
    running = await InProcessBridge.start(settings)
    try:
        async with api.engine.begin() as conn:
            assert await outbox_store.requeue_parked(conn, None) == 1
        await eventually(lambda: stream_has(nc, 4), what="the re-sent and the held-back events")
    finally:
        await running.stop()
    name = f"users/{poisoned_id}"
    published = [
        m.headers["ce-id"] for m in await stream_messages(nc) if m.headers["ce-subject"] == name
    ]
    async with api.engine.connect() as conn:
        query = select(outbox.c.event_id).where(outbox.c.aggregate_name == name)
        committed = (await conn.execute(query.order_by(outbox.c.seq))).scalars().all()
    assert published == list(committed)  # the poisoned user's events in commit order


async def test_a_commit_wakes_the_relay_through_listen_notify(
    api: UsersContainer, pg_url: str, start_bridge: StartBridge, nc: Client
) -> None:
    # Polling every 10 minutes: only the NOTIFY of the commit can bring the event out quickly.
    bridge = await start_bridge(pg_url, poll_interval_seconds=600)
    await eventually(lambda: waits_for_a_wake_up(bridge, pg_url), what="the relay to wait")
    await make_history(api.handlers, users=1, updates=0)
    await eventually(lambda: stream_has(nc, 1), within=20, what="the event, woken by NOTIFY")


async def waits_for_a_wake_up(bridge: InProcessBridge, url: str) -> bool:
    """The relay leads, LISTENs, and runs no statement: its first (empty) round is over."""
    leading = bridge.container.registry.get_sample_value("usersuite_bridge_leader") == 1
    async with await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FILTER (WHERE query ILIKE 'LISTEN%'), "
            "count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = await cursor.fetchone()
    return leading and row == (1, 0)


@pytest.mark.parametrize(
    ("existing", "refusal"),
    [
        pytest.param(
            StreamConfig(name="USER_V1", subjects=["other.>"]),
            "other subjects",
            id="our-stream-with-other-subjects",
        ),
        # Another stream already captures our subjects under another name.
        pytest.param(
            StreamConfig(name="SOMEONE_ELSE", subjects=["user.>"]),
            "JetStream refused stream USER_V1",
            id="another-stream-on-our-subjects",
        ),
    ],
)
async def test_a_stream_that_cannot_be_ours_is_a_clear_conflict(
    pg_url: str, nats_server: NatsServer, nc: Client, existing: StreamConfig, refusal: str
) -> None:
    await nc.jetstream().add_stream(existing)
    with pytest.raises(StreamConflict, match=refusal):
        await bootstrap_bridge(relay_settings(pg_url, nats_server.url))
