"""Writing an outbox row in the caller's transaction, with the caller's trace context."""

import json
from datetime import datetime

from opentelemetry import propagate
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.db.partitions import partition_key
from usersuite.platform.db.tables import outbox

_INSERT_OUTBOX = outbox.insert().inline()


async def append_outbox(
    conn: AsyncConnection,
    *,
    event_id: str,
    event_type: str,
    aggregate_type: str,
    aggregate_name: str,
    aggregate_version: int,
    payload: bytes,
    principal: str,
    occurred_time: datetime,
) -> None:
    """One message for the relay; `aggregate_name` is its partition (ordering) key."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    await conn.execute(
        _INSERT_OUTBOX,
        {
            "event_id": event_id,
            "event_type": event_type,
            "aggregate_type": aggregate_type,
            "aggregate_name": aggregate_name,
            "aggregate_version": aggregate_version,
            "partition_key": partition_key(aggregate_name),
            "payload": payload,
            "trace_context": json.dumps(carrier, sort_keys=True),
            "principal": principal,
            "occurred_time": occurred_time,
        },
    )
