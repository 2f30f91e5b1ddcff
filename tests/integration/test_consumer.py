"""The idempotent consumer on real PostgreSQL and real nats-server: inbox, retries, DLQ, traces."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import grpc
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tests.conftest import make_settings
from tests.support.events import (
    STREAM,
    make_history,
    running_relay,
    stream_has,
    stream_messages,
    wait_until,
)
from tests.support.nats import NatsServer
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.adapters.nats.jetstream import connect
from usersuite.api.server import start
from usersuite.bootstrap import Container, bootstrap
from usersuite.consumer import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_REASON,
    DLQ_STREAM,
    DLQ_STREAM_SEQ,
    DLQ_SUBJECT,
    Consumer,
    ConsumerSettings,
    create_inbox,
    inbox,
)
from usersuite.consumer.events import Event

pytestmark = pytest.mark.integration
DLQ = "USER_V1_DLQ"

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


@pytest.fixture
async def downstream(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """The downstream service's own engine, with its inbox and its effects table."""
    engine = create_async_engine(pg_url)
    await create_inbox(engine)
    async with engine.begin() as conn:
        await conn.run_sync(effects_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await connect(nats_server.url, "test-consumer", first_attempts=5)
    yield client
    await client.close()


def quick(durable: str, **overrides: object) -> ConsumerSettings:
    values: dict[str, object] = {
        "durable": durable,
        "max_deliver": 3,
        "ack_wait_seconds": 5.0,
        "backoff_seconds": (0.05, 0.1),
        "fetch_timeout_seconds": 0.2,
        **overrides,
    }
    return ConsumerSettings(**values)  # type: ignore[arg-type]


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


# --- g. retries, dead letters and exactly-once effect ----------------------------------------


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_deliver(
    api: Container, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    handler = Recorder("always-fails", fail=lambda _event, _call: True)
    async with running_relay(pg_url, nats_server.url):
        [user_id] = await make_history(api.handlers, users=1, updates=0)
        await wait_until(lambda: stream_has(nc, 1), what="the event in the stream")
    [original] = await stream_messages(nc)

    consumer = Consumer(nc, downstream, handler, quick("always-fails"))
    async with running(consumer):
        await wait_until(lambda: stream_has(nc, 1, DLQ), what="the dead letter")
        await wait_until(settled(nc, "always-fails", original.seq), what="the term")
        # Longer than the whole backoff schedule: a redelivery would have come by now.
        await asyncio.sleep(1.0)

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
    api: Container, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    handler = Recorder("flaky", fail=lambda _event, call: call == 1)
    async with running_relay(pg_url, nats_server.url):
        await make_history(api.handlers, users=2, updates=1)
        await wait_until(lambda: stream_has(nc, 4), what="4 events")
    event_ids = [m.headers["ce-id"] for m in await stream_messages(nc)]

    async with running(Consumer(nc, downstream, handler, quick("flaky"))):
        await wait_until(settled(nc, "flaky", await last_seq(nc)), what="all acknowledged")

    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert len(handler.calls) == 8  # each event: one failure, one success
    assert sorted(call.deliveries for call in handler.calls) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert await inbox_count(downstream, "flaky") == 4
    assert await stream_has(nc, 0, DLQ)


async def test_the_same_event_delivered_again_has_its_effect_once(
    api: Container, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = Recorder("once")
    async with running_relay(pg_url, nats_server.url):
        await make_history(api.handlers, users=3, updates=0)
        await wait_until(lambda: stream_has(nc, 3), what="3 events")
    messages = await stream_messages(nc)
    event_ids = [m.headers["ce-id"] for m in messages]

    consumer = Consumer(nc, downstream, handler, quick("once"), tracer_provider=provider)
    async with running(consumer):
        await wait_until(settled(nc, "once", 3), what="the first deliveries")
        # The same event published again under another Nats-Msg-Id: JetStream stores it again.
        first = messages[0]
        headers = {**first.headers, "Nats-Msg-Id": "republished-" + first.headers["ce-id"]}
        ack = await nc.jetstream().publish(first.subject, first.data, headers=headers)
        assert not ack.duplicate
        await wait_until(settled(nc, "once", ack.seq), what="the republished event")

    # The consumer is deleted and created again: JetStream delivers the whole stream anew.
    await nc.jetstream().delete_consumer(STREAM, "once")
    async with running(Consumer(nc, downstream, handler, quick("once"), tracer_provider=provider)):
        await wait_until(settled(nc, "once", ack.seq), what="the replay")

    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert len(handler.calls) == 3
    assert await inbox_count(downstream, "once") == 3
    outcomes = Counter(
        (span.attributes or {})["usersuite.consumer.outcome"]
        for span in exporter.get_finished_spans()
        if span.kind is SpanKind.CONSUMER
    )
    assert outcomes == {"handled": 3, "duplicate": 5}


async def test_stopping_finishes_the_message_in_hand_and_hands_back_the_rest(
    api: Container, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    async with running_relay(pg_url, nats_server.url):
        await make_history(api.handlers, users=3, updates=0)
        await wait_until(lambda: stream_has(nc, 3), what="3 events")
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
    info = await nc.jetstream().consumer_info(STREAM, "stopper")
    assert info.ack_floor.stream_seq == 1
    assert info.delivered.stream_seq == 3  # all three were fetched in one batch
    async with running(Consumer(nc, downstream, recorder, stopper)):
        await wait_until(settled(nc, "stopper", 3), what="the rest", within=30)
    event_ids = [m.headers["ce-id"] for m in await stream_messages(nc)]
    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert [call.deliveries for call in recorder.calls] == [1, 2, 2]


# --- h. one trace from the gRPC call to the consumer -----------------------------------------


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.shutdown()


async def test_the_consumer_span_continues_the_trace_of_the_create_user_call(
    pg_url: str,
    downstream: AsyncEngine,
    nats_server: NatsServer,
    nc: Client,
    exporter: InMemorySpanExporter,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    container = bootstrap(make_settings(pg_url), tracer_provider=provider)
    server = await start(container, "127.0.0.1:0")
    seen_in_handler: list[trace.SpanContext] = []

    async def handler(event: Event, conn: AsyncConnection) -> None:
        seen_in_handler.append(trace.get_current_span().get_span_context())
        await Recorder("traced")(event, conn)

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = user_pb2_grpc.UserServiceStub(channel)
            tracer = provider.get_tracer("test-client")
            with tracer.start_as_current_span("client", kind=SpanKind.CLIENT) as client:
                carrier: dict[str, str] = {}
                propagate.inject(carrier, context=trace.set_span_in_context(client))
                request = user_pb2.CreateUserRequest(
                    user=user_pb2.User(display_name="Ada Lovelace", email="ada@example.com")
                )
                created = await stub.CreateUser(request, metadata=tuple(carrier.items()))
        trace_id = client.get_span_context().trace_id

        consumer = Consumer(nc, downstream, handler, quick("traced"), tracer_provider=provider)
        async with running_relay(pg_url, nats_server.url), running(consumer):
            await wait_until(lambda: stream_has(nc, 1), what="the event")
            await wait_until(settled(nc, "traced", 1), what="the event to be consumed")
    finally:
        await server.stop(0)
        await container.close()

    assert await effect_rows(downstream) == [
        (await stream_messages(nc))[0].headers["ce-id"]
    ]  # fmt: skip
    spans = exporter.get_finished_spans()
    [consumed] = [span for span in spans if span.kind is SpanKind.CONSUMER]
    assert consumed.name == "process user.v1.UserCreated"
    assert consumed.context.trace_id == trace_id
    assert consumed.parent is not None
    assert consumed.parent.is_remote
    in_trace = {span.context.span_id: span for span in spans if span.context.trace_id == trace_id}
    parent = in_trace[consumed.parent.span_id]
    assert parent.kind is SpanKind.SERVER
    assert parent.name == "/user.v1.UserService/CreateUser"
    attributes = dict(consumed.attributes or {})
    assert attributes["messaging.system"] == "nats"
    assert attributes["messaging.destination.name"] == "user.v1.UserCreated"
    assert attributes["messaging.consumer.group.name"] == "traced"
    assert attributes["usersuite.consumer.outcome"] == "handled"
    # The handler runs inside the consumer span: its own spans join the same trace.
    assert [context.span_id for context in seen_in_handler] == [consumed.context.span_id]
    assert created.name.startswith("users/")


# --- i. independent subscribers each see every event -----------------------------------------


async def test_three_durable_consumers_and_a_core_subscriber_each_get_every_event(
    api: Container, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    core: list[Msg] = []

    async def on_core(msg: Msg) -> None:
        core.append(msg)

    subscription = await nc.subscribe("user.v1.>", cb=on_core)
    names = ("alpha", "beta", "gamma")
    handlers = {name: Recorder(name) for name in names}
    async with running_relay(pg_url, nats_server.url):
        consumers = [Consumer(nc, downstream, handlers[name], quick(name)) for name in names]
        async with running(consumers[0]), running(consumers[1]), running(consumers[2]):
            await make_history(api.handlers, users=3, updates=2)
            await wait_until(lambda: stream_has(nc, 9), what="9 events")
            for name in names:
                await wait_until(settled(nc, name, 9), what=f"{name} to consume every event")
    await wait_until(lambda: _length_is(core, 9), what="the core subscriber")
    await subscription.unsubscribe()

    event_ids = [m.headers["ce-id"] for m in await stream_messages(nc)]
    assert len(set(event_ids)) == 9
    for name in names:
        assert Counter(await effect_rows(downstream, name)) == Counter(event_ids), name
        assert len(handlers[name].calls) == 9
        assert await inbox_count(downstream, name) == 9
    assert Counter(msg.headers["ce-id"] for msg in core if msg.headers) == Counter(event_ids)
    assert Counter(msg.subject for msg in core) == {
        "user.v1.UserCreated": 3,
        "user.v1.UserUpdated": 6,
    }


async def _length_is(items: list[Msg], n: int) -> bool:
    return len(items) == n
