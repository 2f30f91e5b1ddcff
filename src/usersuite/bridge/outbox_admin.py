"""`usersuite outbox list|retry`: inspect outbox rows and re-queue parked ones."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.adapters.db import outbox_store
from usersuite.adapters.db.outbox_store import OutboxRow
from usersuite.bootstrap import database_engine
from usersuite.config import Settings


@asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """One connection is all a one-shot command needs."""
    engine = database_engine(settings, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


def row_json(row: OutboxRow) -> str:
    return json.dumps(
        {
            "seq": row.seq,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "aggregate_name": row.aggregate_name,
            "aggregate_version": row.aggregate_version,
            "state": row.state,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "occurred_time": row.occurred_time.isoformat().replace("+00:00", "Z"),
        }
    )


async def list_outbox(settings: Settings, *, state: str | None, limit: int, out: TextIO) -> int:
    """Prints one JSON line per row, oldest first."""
    async with _engine(settings) as engine, engine.connect() as conn:
        rows = await outbox_store.list_rows(conn, state, limit)
    for row in rows:
        print(row_json(row), file=out)
    return 0


async def retry_parked(settings: Settings, *, event_ids: list[str] | None, out: TextIO) -> int:
    """Parked rows (all when `event_ids` is None) go back to pending; prints how many."""
    async with _engine(settings) as engine, engine.begin() as conn:
        requeued = await outbox_store.requeue_parked(conn, event_ids)
        if requeued and engine.dialect.name == "postgresql":
            # The insert trigger wakes the bridge only for new rows; wake it for these too.
            await conn.execute(
                text("SELECT pg_notify(:channel, '')"), {"channel": outbox_store.NOTIFY_CHANNEL}
            )
    print(f"re-queued {requeued} parked event(s)", file=out)
    return 0
