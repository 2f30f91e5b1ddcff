"""Writing one outbox row in the caller's transaction: every service's outbox, the same way."""

import json
from typing import Any

from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.db.partitions import partition_key
from usersuite.platform.db.tables import outbox
from usersuite.platform.domain.events import EventMetadata

# Inline: nothing reads the generated `seq` back, so no RETURNING travels or is parsed.
INSERT_OUTBOX = outbox.insert().inline()


async def append_outbox(
    conn: AsyncConnection,
    metadata: EventMetadata,
    event_type: str,
    payload: bytes,
    aggregate_type: str,
) -> None:
    """Inserts an encoded message on `conn`, with the current trace context, so it commits with
    the change: the relay publishes it on subject `event_type` with Nats-Msg-Id `event_id`, in
    the order of its `aggregate_name` (the partition key)."""
    await conn.execute(INSERT_OUTBOX, outbox_values(metadata, event_type, payload, aggregate_type))


def outbox_values(
    metadata: EventMetadata, event_type: str, payload: bytes, aggregate_type: str
) -> dict[str, Any]:
    """The values of INSERT_OUTBOX for one message, with the current trace context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {
        "event_id": metadata.event_id,
        "event_type": event_type,
        "aggregate_type": aggregate_type,
        "aggregate_name": metadata.aggregate_name,
        "aggregate_version": metadata.aggregate_version,
        "partition_key": partition_key(metadata.aggregate_name),
        "payload": payload,
        "trace_context": json.dumps(carrier, sort_keys=True),
        "principal": metadata.principal,
        "occurred_time": metadata.occurred_time,
    }
