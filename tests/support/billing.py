"""Billing as its tests drive it: its database, messages published as the relay does, its rows."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.v1 import events_pb2, saga_pb2
from tests.support.postgres import Postgres
from user.v1 import events_pb2 as user_events
from user.v1 import user_pb2
from usersuite.billing.adapters.db.schema import migrations
from usersuite.billing.adapters.db.tables import accounts
from usersuite.platform.config import StreamSettings
from usersuite.platform.db.tables import outbox
from usersuite.platform.nats.jetstream import ensure_stream

REPLY_TYPES: dict[str, type[Message]] = {
    "billing.v1.CreditReserved": saga_pb2.CreditReserved,
    "billing.v1.CreditRefused": saga_pb2.CreditRefused,
    "billing.v1.CreditReleased": saga_pb2.CreditReleased,
    "billing.v1.AccountOpened": events_pb2.AccountOpened,
    "billing.v1.AccountClosed": events_pb2.AccountClosed,
    "billing.v1.CreditLimitChanged": events_pb2.CreditLimitChanged,
}


def billing_database(postgres: Postgres) -> str:
    """An empty database migrated by billing's own history."""
    url = postgres.empty_database()
    migrations.upgrade(url)
    return url


def new_id() -> str:
    return str(uuid.uuid4())


def user_created(user_id: str) -> user_events.UserCreated:
    meta = user_events.EventMetadata(
        event_id=new_id(), aggregate_name=f"users/{user_id}", aggregate_version=1,
        principal="test",
    )  # fmt: skip
    return user_events.UserCreated(metadata=meta, user=user_pb2.User(name=f"users/{user_id}"))


def user_deleted(user_id: str) -> user_events.UserDeleted:
    meta = user_events.EventMetadata(
        event_id=new_id(), aggregate_name=f"users/{user_id}", aggregate_version=2
    )
    return user_events.UserDeleted(metadata=meta, name=f"users/{user_id}")


def _saga_meta(order: str) -> events_pb2.EventMetadata:
    return events_pb2.EventMetadata(event_id=new_id(), aggregate_name=order)


def reserve_credit(
    order: str, user_id: str, amount: int, *, command_id: str = "", currency: str = "EUR"
) -> saga_pb2.ReserveCredit:
    return saga_pb2.ReserveCredit(
        metadata=_saga_meta(order), command_id=command_id or new_id(), saga_id=f"saga-{order}",
        order=order, account=f"accounts/{user_id}", amount_minor=amount, currency_code=currency,
    )  # fmt: skip


def release_credit(order: str, *, command_id: str = "") -> saga_pb2.ReleaseCredit:
    return saga_pb2.ReleaseCredit(
        metadata=_saga_meta(order), command_id=command_id or new_id(), saga_id=f"saga-{order}",
        order=order,
    )  # fmt: skip


async def provision(nc: Client) -> None:
    """The suite's stream, as a bridge creates it."""
    await ensure_stream(nc.jetstream(), StreamSettings())


async def publish(
    nc: Client, message: Any, *, msg_id: str = "", headers: dict[str, str] | None = None
) -> None:
    """As the relay publishes: subject and ce-type = full name, Nats-Msg-Id = ce-id = the id.

    `msg_id` overrides the JetStream id only, so a repeat of one event passes the stream's
    duplicate window and reaches the consumer's inbox (what a redelivery or a replay does)."""
    name = message.DESCRIPTOR.full_name
    event_id = message.metadata.event_id
    sent = {"ce-id": event_id, "ce-type": name, "Nats-Msg-Id": msg_id or event_id}
    await nc.jetstream().publish(
        name, message.SerializeToString(), headers={**sent, **(headers or {})}
    )


@dataclass(frozen=True)
class OutboxMessage:
    event_id: str
    event_type: str
    aggregate_name: str
    message: Message


async def trace_contexts(engine: AsyncEngine) -> list[dict[str, str]]:
    """Each outbox row's W3C trace context, in outbox order."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.trace_context).order_by(outbox.c.seq))
        return [json.loads(value) for value in rows.scalars()]


async def outbox_messages(engine: AsyncEngine) -> list[OutboxMessage]:
    query = select(
        outbox.c.event_id, outbox.c.event_type, outbox.c.aggregate_name, outbox.c.payload
    ).order_by(outbox.c.seq)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        OutboxMessage(r.event_id, r.event_type, r.aggregate_name,
                      REPLY_TYPES[r.event_type].FromString(r.payload))
        for r in rows
    ]  # fmt: skip


async def replies(engine: AsyncEngine) -> list[OutboxMessage]:
    return [m for m in await outbox_messages(engine) if m.event_type.startswith("billing.v1.Credit")
            and m.event_type != "billing.v1.CreditLimitChanged"]  # fmt: skip


async def reserved_minor(engine: AsyncEngine, user_id: str) -> int | None:
    query = select(accounts.c.reserved_minor).where(accounts.c.user_id == user_id)
    async with engine.connect() as conn:
        value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else int(value)
