"""One trace per order across the suite: the CreateOrder call, billing's handling of its
ReserveCredit and orders' handling of the CreditReserved reply share its trace id, carried through
both outboxes, the relays and both consumers (real PostgreSQL databases and nats-server)."""

from collections.abc import Iterator

import grpc
import pytest
from nats.aio.client import Client
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import create_async_engine

from order.v1 import order_pb2_grpc
from tests.support.billing import provision, publish, reserved_minor, user_created
from tests.support.consuming import quick
from tests.support.nats import NatsServer
from tests.support.orders_saga import new_order, orders_settings, stored_order
from tests.support.postgres import Postgres
from tests.support.relaying import relaying
from tests.support.settings import make_settings
from tests.support.waiting import eventually
from usersuite.billing.api.inbound import SUBJECTS
from usersuite.bootstrap.billing import DURABLE, bootstrap_billing
from usersuite.bootstrap.orders import bootstrap_orders
from usersuite.orders.adapters.db.schema import migrations
from usersuite.platform.grpc.server import start


@pytest.fixture
def orders_url(postgres: Postgres) -> Iterator[str]:
    url = postgres.empty_database()
    migrations.upgrade(url)
    yield url
    postgres.drop_database(url)


def spans_named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


async def test_an_orders_trace_runs_from_create_through_billing_and_back(
    orders_url: str, billing_pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await provision(nc)
    billing = bootstrap_billing(
        make_settings(billing_pg_url, nats_url=nats_server.url),
        consumer=quick(DURABLE, filter_subjects=SUBJECTS),
        tracer_provider=provider,
    )
    orders = bootstrap_orders(
        orders_settings(orders_url, nats_server.url), tracer_provider=provider
    )
    billing_db = create_async_engine(billing_pg_url)
    billing_api = await start(billing, "127.0.0.1:0")
    orders_api = await start(orders, "127.0.0.1:0")
    try:
        async with (
            relaying(orders_url, nats_server.url),
            relaying(billing_pg_url, nats_server.url),
            grpc.aio.insecure_channel(f"127.0.0.1:{orders_api.port}") as channel,
        ):
            await publish(nc, user_created("ada-lovelace"))
            await eventually(lambda: has_account(billing_db), what="billing opened Ada's account")
            exporter.clear()  # the trace of the order alone
            stub = order_pb2_grpc.OrderServiceStub(channel)
            order = await stub.CreateOrder(new_order("users/ada-lovelace"), timeout=10)
            order_id = order.name.removeprefix("orders/")

            async def approved() -> bool:
                return (await stored_order(orders_url, order_id))[0] == "APPROVED"

            await eventually(approved, what="the order approved")
    finally:
        await orders_api.stop(0)
        await billing_api.stop(0)
        await orders.close()
        await billing.close()
        await billing_db.dispose()

    spans = exporter.get_finished_spans()
    (create,) = [s for s in spans if s.kind == SpanKind.SERVER and "CreateOrder" in s.name]
    (reserve,) = spans_named(spans, "process billing.v1.ReserveCredit")
    (reply,) = spans_named(spans, "process billing.v1.CreditReserved")
    trace_id = create.context.trace_id
    assert reserve.context.trace_id == trace_id
    assert reply.context.trace_id == trace_id
    assert reserve.kind == reply.kind == SpanKind.CONSUMER
    # Each hop continues the one before it: billing under the create, orders under billing.
    assert reserve.parent is not None
    assert reply.parent is not None
    assert reserve.start_time is not None
    assert create.start_time is not None
    assert reserve.start_time > create.start_time


async def has_account(engine: object) -> bool:
    return await reserved_minor(engine, "ada-lovelace") is not None  # type: ignore[arg-type]
