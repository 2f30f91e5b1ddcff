"""Consumers on real PostgreSQL and real nats-server: one trace from the gRPC call to the
consumer, and independent subscribers that each see every event."""

from collections import Counter

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.support.consuming import (
    Recorder,
    effect_rows,
    inbox_count,
    quick,
    running,
    settled,
)
from tests.support.events import make_history, stream_has, stream_messages
from tests.support.nats import NatsServer
from tests.support.relaying import relaying
from tests.support.settings import make_settings
from tests.support.waiting import eventually
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import UsersContainer, bootstrap
from usersuite.platform.consumer import (
    Consumer,
)
from usersuite.platform.consumer.events import Event
from usersuite.platform.grpc.server import start

# --- One trace from the gRPC call to the consumer -------------------------------------------------


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
        async with relaying(pg_url, nats_server.url), running(consumer):
            await eventually(lambda: stream_has(nc, 1), what="the event")
            await eventually(settled(nc, "traced", 1), what="the event to be consumed")
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
    assert attributes["usersuite.platform.consumer.outcome"] == "handled"
    # The handler runs inside the consumer span: its own spans join the same trace.
    assert [context.span_id for context in seen_in_handler] == [consumed.context.span_id]
    assert created.name.startswith("users/")


# --- Independent subscribers each see every event -------------------------------------------------


async def test_three_durable_consumers_and_a_core_subscriber_each_get_every_event(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    core: list[Msg] = []

    async def on_core(msg: Msg) -> None:
        core.append(msg)

    subscription = await nc.subscribe("user.v1.>", cb=on_core)
    names = ("alpha", "beta", "gamma")
    handlers = {name: Recorder(name) for name in names}
    async with relaying(pg_url, nats_server.url):
        consumers = [Consumer(nc, downstream, handlers[name], quick(name)) for name in names]
        async with running(consumers[0]), running(consumers[1]), running(consumers[2]):
            await make_history(api.handlers, users=3, updates=2)
            await eventually(lambda: stream_has(nc, 9), what="9 events")
            for name in names:
                await eventually(settled(nc, name, 9), what=f"{name} to consume every event")
    await eventually(lambda: _length_is(core, 9), what="the core subscriber")
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
