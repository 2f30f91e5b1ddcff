"""The orders service with its saga as integration tests run it, and billing played by the test:
commands read off JetStream, replies published to it."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from billing.v1 import events_pb2 as billing_events_pb2
from billing.v1 import saga_pb2
from order.v1 import order_pb2, order_pb2_grpc
from tests.support.events import STREAM, Stored, stream_messages
from tests.support.relaying import InProcessBridge, relaying
from tests.support.settings import make_settings
from usersuite.bootstrap.orders import OrdersContainer, bootstrap_orders
from usersuite.orders.adapters.db.tables import orders, sagas
from usersuite.platform.config import Settings
from usersuite.platform.db.tables import inbox, outbox
from usersuite.platform.grpc.server import ApiServer, start

# A step waits this long when a test means "billing answers": far beyond any test's duration,
# so no retry ever races the reply the test sends.
PATIENT = {"step_timeout_seconds": 600.0, "max_wait_seconds": 600.0, "scan_interval_seconds": 0.05}


def orders_settings(
    url: str, nats_url: str, *, other: dict[str, Any] | None = None, **orders_group: Any
) -> Settings:
    """The `orders` group as given (patient by default); `other` settings override the rest."""
    return make_settings(
        url, nats_url=nats_url, orders={**PATIENT, **orders_group},
        bridge={"poll_interval_seconds": 0.05, "backoff_initial_seconds": 0.05}, **(other or {}),
    )  # fmt: skip


@dataclass
class RunningOrders:
    container: OrdersContainer
    server: ApiServer
    channel: grpc.aio.Channel
    # What the composition built to run beside the API (reply consumer, deadline scanner),
    # started or not.
    background: tuple[Any, ...]

    @property
    def stub(self) -> Any:
        return order_pb2_grpc.OrderServiceStub(self.channel)


@asynccontextmanager
async def serving_orders(
    settings: Settings, *, background: bool = True
) -> AsyncIterator[RunningOrders]:
    """The orders API; its reply consumer and deadline scanner too unless `background` is off."""
    container = bootstrap_orders(settings)
    built = container.background
    if not background:
        container.background = ()
    server = await start(container, "127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield RunningOrders(container, server, channel, built)
    finally:
        await server.stop(0)
        await container.close()


@asynccontextmanager
async def relaying_orders(url: str, nats_url: str) -> AsyncIterator[InProcessBridge]:
    async with relaying(url, nats_url, poll_interval_seconds=0.05) as bridge:
        yield bridge


def new_order(user: str = "users/ada-lovelace", **fields: Any) -> order_pb2.CreateOrderRequest:
    line = order_pb2.LineItem(sku="BOOK-1", quantity=2, unit_price_minor=1250)
    return order_pb2.CreateOrderRequest(
        order=order_pb2.Order(user=user, line_items=[line], currency_code="EUR"), **fields
    )


async def commands_of(nc: Client, kind: str, order_name: str) -> list[Any]:
    """The saga commands (`ReserveCredit`, `ReleaseCredit`) of one order in the stream."""
    found = []
    for stored in await stream_messages(nc):
        if stored.subject == f"billing.v1.{kind}":
            message = getattr(saga_pb2, kind).FromString(stored.data)
            if message.order == order_name:
                found.append(message)
    return found


async def events_of(nc: Client, subject: str) -> list[Stored]:
    return [stored for stored in await stream_messages(nc) if stored.subject == subject]


def metadata(order: str) -> billing_events_pb2.EventMetadata:
    return billing_events_pb2.EventMetadata(event_id=str(uuid.uuid4()), aggregate_name=order)


def reserved(command: Any) -> saga_pb2.CreditReserved:
    return saga_pb2.CreditReserved(
        metadata=metadata(command.account), command_id=command.command_id,
        saga_id=command.saga_id, order=command.order, amount_minor=command.amount_minor,
    )  # fmt: skip


def refused(command: Any, reason: int) -> saga_pb2.CreditRefused:
    return saga_pb2.CreditRefused(
        metadata=metadata(command.account), command_id=command.command_id,
        saga_id=command.saga_id, order=command.order, reason=reason,  # type: ignore[arg-type]
    )  # fmt: skip


def released(command: Any) -> saga_pb2.CreditReleased:
    return saga_pb2.CreditReleased(
        metadata=metadata(command.order), command_id=command.command_id,
        saga_id=command.saga_id, order=command.order,
    )  # fmt: skip


async def publish(nc: Client, reply: Message, *, dedup: bool = True) -> str:
    """Billing's reply, as its relay would publish it; returns its event id.

    `dedup=False` leaves out Nats-Msg-Id, so a second publish of the same reply is stored again
    (as a redelivery after JetStream's duplicate window would be) and only the inbox stops it.
    """
    event_id = str(reply.metadata.event_id)  # type: ignore[attr-defined]
    name = reply.DESCRIPTOR.full_name
    headers = {"ce-id": event_id, "ce-type": name}
    if dedup:
        headers["Nats-Msg-Id"] = event_id
    await nc.jetstream().publish(name, reply.SerializeToString(), headers=headers)
    return event_id


async def stored_order(url: str, order_id: str) -> tuple[str, str | None, int]:
    """(state, rejection_reason, version) of the order as the database holds it."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(orders.c.state, orders.c.rejection_reason, orders.c.version)
            row = (await conn.execute(query.where(orders.c.id == order_id))).one()
    finally:
        await engine.dispose()
    return row.state, row.rejection_reason, row.version


async def inbox_has(url: str, *event_ids: str) -> bool:
    """The orders consumer has settled these replies (its inbox holds them)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(inbox.c.event_id).where(inbox.c.consumer == "orders")
            seen = set((await conn.execute(query)).scalars())
    finally:
        await engine.dispose()
    return set(event_ids) <= seen


async def outbox_types(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(outbox.c.event_type).order_by(outbox.c.seq))
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def replies_settled(nc: Client) -> bool:
    """The orders consumer holds nothing unacknowledged and nothing waits for it (its filter
    sees only replies, so the stream's last sequence is no measure)."""
    info = await nc.jetstream().consumer_info(STREAM, "orders")
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def saga_steps(url: str, order_id: str) -> list[tuple[str, str]]:
    """(kind, step) of the order's sagas, oldest first."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(sagas.c.kind, sagas.c.step).where(sagas.c.order_id == order_id)
            rows = (await conn.execute(query.order_by(sagas.c.create_time))).all()
    finally:
        await engine.dispose()
    return [(row.kind, row.step) for row in rows]
