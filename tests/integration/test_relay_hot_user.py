"""One hot user against a real nats-server: its events pipelined under Nats-Expected-Last-Msg-Id,
each stored once, in order, also when a guard is refused and the event goes out again."""

import asyncio
import gc
import itertools
from typing import Any

import psycopg
from nats.aio.client import Client

from tests.support.events import stream_messages, write_history
from tests.support.nats import NatsServer
from tests.support.outbox import all_relayed, assert_relayed
from tests.support.postgres import conninfo
from tests.support.relaying import relaying
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.config import BridgeSettings, StreamSettings
from usersuite.platform.nats.jetstream import ensure_stream
from usersuite.platform.nats.messages import headers_for
from usersuite.platform.service.outbox import OutboxRow
from usersuite.users.service import commands

GUARD = "Nats-Expected-Last-Msg-Id"


async def pending_rows(url: str) -> list[OutboxRow]:
    """The pending rows as the relay would claim them, read with plain psycopg."""
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cursor = await conn.execute(
            "SELECT seq, event_id, event_type, aggregate_name, aggregate_version, payload,"
            " principal, occurred_time, attempts FROM outbox WHERE state = 'pending' ORDER BY seq"
        )
        return [
            OutboxRow(seq, event_id, event_type, name, version, bytes(payload), {}, principal,
                      occurred, attempts)
            for seq, event_id, event_type, name, version, payload, principal, occurred, attempts
            in await cursor.fetchall()
        ]  # fmt: skip


async def assert_guards_held(nc: Client) -> int:
    """Every stored event that carries a guard follows the event it names; returns how many."""
    messages = await stream_messages(nc)
    guarded = 0
    for before, msg in itertools.pairwise(messages):
        if GUARD in msg.headers:
            assert msg.headers[GUARD] == before.headers["Nats-Msg-Id"], msg.headers
            guarded += 1
    return guarded


async def test_a_hot_users_events_go_out_pipelined_once_and_in_order(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    await write_history(api.handlers, users=1, events_per_user=150)
    async with relaying(pg_url, nats_server.url):
        await eventually(lambda: all_relayed(nc, pg_url, 150), what="150 events relayed")
    await assert_relayed(nc, pg_url)
    # Most events went out while the one before them was still unacknowledged.
    assert await assert_guards_held(nc) > 100


async def relay_after_a_crash(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> list[OutboxRow]:
    """The refused-guard scenario below, relayed to the end; returns the rows it wrote."""
    await write_history(api.handlers, users=1, events_per_user=100)
    await api.handlers.create_user(commands.CreateUser(display_name="Other", email="o@x.org"))
    rows = await pending_rows(pg_url)
    source = BridgeSettings().cloudevents_source
    js = nc.jetstream()
    await ensure_stream(js, StreamSettings())
    for row in [*rows[:40], rows[-1]]:
        await js.publish(row.event_type, row.payload, headers=headers_for(row, source))
    async with relaying(pg_url, nats_server.url):
        await eventually(lambda: all_relayed(nc, pg_url, 101), what="101 events relayed")
    await assert_relayed(nc, pg_url)
    return rows


async def test_a_refused_guard_sends_the_event_again_after_its_predecessor(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    """A bridge crashed after publishing 40 of a hot user's events and another user's event,
    before marking them: the next bridge re-sends them (duplicates), and the guard of event 41
    names event 40, which is not the stream's last message, so JetStream refuses it once."""
    rows = await relay_after_a_crash(api, pg_url, nats_server, nc)
    messages = await stream_messages(nc)
    order = [msg.headers["Nats-Msg-Id"] for msg in messages]
    assert order[40] == rows[-1].event_id
    assert order[41] == rows[40].event_id
    assert GUARD not in messages[41].headers  # sent again alone, once event 40 was acknowledged
    await assert_guards_held(nc)


async def test_a_refused_guard_leaves_no_failure_unread(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    """The events behind a refused guard are refused too; each of those failures is read."""
    unread: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: unread.append(context))
    try:
        await relay_after_a_crash(api, pg_url, nats_server, nc)
        gc.collect()  # asyncio reports an unread failure when its future is collected
    finally:
        loop.set_exception_handler(previous)
    assert [context["message"] for context in unread] == []
