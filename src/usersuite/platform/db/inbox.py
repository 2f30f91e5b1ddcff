"""The consumer inbox: which events a downstream consumer has already handled."""

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.db.dialect import upsert_insert
from usersuite.platform.db.tables import inbox, inbox_metadata

SUPPORTED_DIALECTS = ("postgresql", "sqlite")


async def purge_inbox(engine: AsyncEngine, consumer: str, older_than: datetime, batch: int) -> int:
    """Deletes the consumer's inbox rows received before the cutoff, one batch per transaction."""
    total = 0
    while True:
        victims = (
            select(inbox.c.event_id)
            .where(inbox.c.consumer == consumer, inbox.c.received_time < older_than)
            .limit(batch)
            .scalar_subquery()
        )
        async with engine.begin() as conn:
            result = await conn.execute(
                delete(inbox).where(inbox.c.consumer == consumer, inbox.c.event_id.in_(victims))
            )
        total += result.rowcount
        if result.rowcount < batch:
            return total


async def create_inbox(engine: AsyncEngine) -> None:
    """Creates the inbox table when it is missing (`inbox_metadata.create_all`).

    The downstream service owns its database; one that manages its schema with Alembic adds
    `inbox_metadata` to its target metadata instead and lets its migrations create the table.
    """
    async with engine.begin() as conn:
        await conn.run_sync(inbox_metadata.create_all)


async def record_delivery(conn: AsyncConnection, consumer: str, event_id: str) -> bool:
    """Inserts the inbox row; False when it is there already.

    On PostgreSQL a concurrent insert of the same row waits for the other transaction: it
    then finds the row (committed) or inserts it (rolled back), never both.
    """
    statement = (
        upsert_insert(conn, inbox)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return (await conn.execute(statement)).first() is not None
