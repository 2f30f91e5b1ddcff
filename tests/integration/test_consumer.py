"""The idempotent consumer on real PostgreSQL and real nats-server: inbox, retries, DLQ."""

import asyncio
from collections import Counter

from nats.aio.client import Client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.consuming import (
    Recorder,
    effect_rows,
    inbox_count,
    last_seq,
    quick,
    running,
    settled,
)
from tests.support.events import STREAM, stream_has, stream_messages
from tests.support.nats import NatsServer
from tests.support.relaying import relayed_history
from tests.support.waiting import eventually, holds, stays_true_for
from usersuite.bootstrap import UsersContainer
from usersuite.platform.consumer import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_REASON,
    DLQ_STREAM,
    DLQ_STREAM_SEQ,
    DLQ_SUBJECT,
    Consumer,
)
from usersuite.platform.consumer.events import Event

DLQ = "USER_V1_DLQ"


# --- Retries, dead letters and exactly-once effect ------------------------------------------------


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_deliver(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    handler = Recorder("always-fails", fail=lambda _event, _call: True)
    [user_id] = await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=1, updates=0)
    [original] = await stream_messages(nc)

    consumer = Consumer(nc, downstream, handler, quick("always-fails"))
    async with running(consumer):
        await eventually(lambda: stream_has(nc, 1, DLQ), what="the dead letter")
        await eventually(settled(nc, "always-fails", original.seq), what="the term")
        # Longer than the whole backoff schedule: a redelivery would come within the window.
        await stays_true_for(holds(lambda: len(handler.calls) == 3), what="no fourth delivery")

    assert len(handler.calls) == 3
    assert [call.deliveries for call in handler.calls] == [1, 2, 3]
    info = await nc.jetstream().consumer_info(STREAM, "always-fails")
    assert info.num_ack_pending == 0
    assert info.num_redelivered == 0
    assert info.num_pending == 0
    [dead] = await stream_messages(nc, DLQ)
    assert dead.subject == "dlq.user.v1.UserCreated"
    assert dead.data == original.data
    headers = dead.headers
    for name in ("ce-id", "ce-type", "ce-subject", "ce-time", "ce-source", "content-type"):
        assert headers[name] == original.headers[name]
    assert headers[DLQ_REASON] == f"RuntimeError: handler refused {headers['ce-id']} second line"
    assert headers[DLQ_CONSUMER] == "always-fails"
    assert headers[DLQ_DELIVERIES] == "3"
    assert headers[DLQ_STREAM] == STREAM
    assert headers[DLQ_STREAM_SEQ] == str(original.seq)
    assert headers[DLQ_SUBJECT] == "user.v1.UserCreated"
    assert headers["ce-subject"] == f"users/{user_id}"
    # Every failed attempt rolled back: no effect, no inbox row.
    assert await effect_rows(downstream) == []
    assert await inbox_count(downstream, "always-fails") == 0


async def test_a_handler_that_fails_once_has_its_effect_exactly_once(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    handler = Recorder("flaky", fail=lambda _event, call: call == 1)
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=2, updates=1)
    event_ids = [m.headers["ce-id"] for m in await stream_messages(nc)]

    async with running(Consumer(nc, downstream, handler, quick("flaky"))):
        await eventually(settled(nc, "flaky", await last_seq(nc)), what="all acknowledged")

    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert len(handler.calls) == 8  # each event: one failure, one success
    assert sorted(call.deliveries for call in handler.calls) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert await inbox_count(downstream, "flaky") == 4
    assert await stream_has(nc, 0, DLQ)


async def test_the_same_event_delivered_again_has_its_effect_once(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = Recorder("once")
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=3, updates=0)
    messages = await stream_messages(nc)
    event_ids = [m.headers["ce-id"] for m in messages]

    consumer = Consumer(nc, downstream, handler, quick("once"), tracer_provider=provider)
    async with running(consumer):
        await eventually(settled(nc, "once", 3), what="the first deliveries")
        # The same event published again under another Nats-Msg-Id: JetStream stores it again.
        first = messages[0]
        headers = {**first.headers, "Nats-Msg-Id": "republished-" + first.headers["ce-id"]}
        ack = await nc.jetstream().publish(first.subject, first.data, headers=headers)
        assert not ack.duplicate
        await eventually(settled(nc, "once", ack.seq), what="the republished event")

    # The consumer is deleted and created again: JetStream delivers the whole stream anew.
    await nc.jetstream().delete_consumer(STREAM, "once")
    async with running(Consumer(nc, downstream, handler, quick("once"), tracer_provider=provider)):
        await eventually(settled(nc, "once", ack.seq), what="the replay")

    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert len(handler.calls) == 3
    assert await inbox_count(downstream, "once") == 3
    outcomes = Counter(
        (span.attributes or {})["usersuite.platform.consumer.outcome"]
        for span in exporter.get_finished_spans()
        if span.kind is SpanKind.CONSUMER
    )
    assert outcomes == {"handled": 3, "duplicate": 5}


async def test_stopping_finishes_the_message_in_hand_and_hands_back_the_rest(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=3, updates=0)
    recorder = Recorder("stopper")
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(event: Event, conn: AsyncConnection) -> None:
        entered.set()
        await release.wait()
        await recorder(event, conn)

    # ack_wait longer than the test may take: only a nak brings the rest back in time.
    stopper = quick("stopper", batch_size=10, ack_wait_seconds=120.0)
    stopping = asyncio.Event()
    task = asyncio.create_task(Consumer(nc, downstream, slow, stopper).run(stopping))
    await asyncio.wait_for(entered.wait(), 30)
    stopping.set()
    release.set()
    await asyncio.wait_for(task, 30)

    assert len(await effect_rows(downstream)) == 1

    async def in_hand_acked_rest_fetched() -> bool:
        info = await nc.jetstream().consumer_info(STREAM, "stopper")
        # All three were fetched in one batch; only the one in hand is acknowledged.
        return bool(info.ack_floor.stream_seq == 1 and info.delivered.stream_seq == 3)

    # An ack is a publish the server applies to the consumer after it arrives, not before
    # run() returns: the test waits for the server's view instead of reading it once.
    await eventually(in_hand_acked_rest_fetched, what="the message in hand acknowledged")
    async with running(Consumer(nc, downstream, recorder, stopper)):
        await eventually(settled(nc, "stopper", 3), what="the rest", within=30)
    event_ids = [m.headers["ce-id"] for m in await stream_messages(nc)]
    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert [call.deliveries for call in recorder.calls] == [1, 2, 2]
