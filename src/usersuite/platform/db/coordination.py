"""How bridges learn of new outbox rows through PostgreSQL: the NOTIFY wake-up hint.

Sharing the outbox between bridges is partitions.py's job. On SQLite (one process on a laptop)
there is nothing to coordinate: the one bridge relays everything and polls.
"""

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.db.availability import DATABASE_ERRORS
from usersuite.platform.db.outbox_store import NOTIFY_CHANNEL
from usersuite.platform.ops.errors import describe

log = logging.getLogger(__name__)


def is_postgres(engine: AsyncEngine | AsyncConnection) -> bool:
    return engine.dialect.name == "postgresql"


async def wake_relay(conn: AsyncConnection) -> None:
    """The insert trigger wakes the bridge only for new rows; this wakes it for re-queued ones."""
    if is_postgres(conn):
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


async def listen_for_outbox(
    engine: AsyncEngine, wake: Callable[[], None], retry_seconds: float
) -> None:
    """Calls `wake` on every outbox NOTIFY until cancelled; a lost connection is re-opened.

    LISTEN needs a connection of its own in autocommit that nobody else uses, so it is opened
    with the engine's own connect arguments rather than borrowed from the pool.
    """
    if not is_postgres(engine):
        return
    args, params = engine.dialect.create_connect_args(engine.url)
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(*args, **params, autocommit=True)
            async with connection as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                async for _ in conn.notifies():
                    wake()
        except DATABASE_ERRORS as exc:
            log.debug("LISTEN connection lost: %s", describe(exc))
            await asyncio.sleep(retry_seconds)
