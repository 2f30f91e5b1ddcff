"""Writing one outbox row in the caller's transaction: every service's outbox, the same way."""

import json
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.db.partitions import partition_key
from usersuite.platform.db.tables import outbox

# Inline: nothing reads the generated `seq` back, so no RETURNING travels or is parsed.
_INSERT_OUTBOX = outbox.insert().inline()


@dataclass(frozen=True)
class OutboxEntry:
    """An encoded message for the outbox: the relay publishes it on subject `event_type`, with
    Nats-Msg-Id `event_id`, in the order of its `aggregate_name` (the partition key)."""

    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_name: str
    aggregate_version: int
    payload: bytes
    principal: str
    occurred_time: datetime


async def append_outbox(conn: AsyncConnection, entry: OutboxEntry) -> None:
    """Inserts the row on `conn`, with the current trace context, so it commits with the change."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    await conn.execute(
        _INSERT_OUTBOX,
        {
            "event_id": entry.event_id,
            "event_type": entry.event_type,
            "aggregate_type": entry.aggregate_type,
            "aggregate_name": entry.aggregate_name,
            "aggregate_version": entry.aggregate_version,
            "partition_key": partition_key(entry.aggregate_name),
            "payload": entry.payload,
            "trace_context": json.dumps(carrier, sort_keys=True),
            "principal": entry.principal,
            "occurred_time": entry.occurred_time,
        },
    )
