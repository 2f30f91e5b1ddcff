"""Housekeeping the API process runs in the background: forgetting expired request ids."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.tables import idempotency
from usersuite.platform.ops.background import BackgroundTask

log = logging.getLogger(__name__)
BATCH = 1000


async def purge_request_ids(engine: AsyncEngine, older_than: datetime, batch: int = BATCH) -> int:
    """Deletes request ids older than the cutoff, in small transactions; returns how many."""
    total = 0
    while True:
        victims = (
            select(idempotency.c.request_id)
            .where(idempotency.c.create_time < older_than)
            .limit(batch)
            .scalar_subquery()
        )
        async with engine.begin() as conn:
            deleted = (
                await conn.execute(delete(idempotency).where(idempotency.c.request_id.in_(victims)))
            ).rowcount
        total += deleted
        if deleted < batch:
            return total


class RequestIdJanitor:
    """Every `interval` seconds, forgets request ids older than `retention` (AIP-155 window)."""

    def __init__(
        self,
        engine: AsyncEngine,
        retention: timedelta,
        interval: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine, self._retention, self._interval, self._clock = (
            engine, retention, interval, clock
        )  # fmt: skip
        self._background = BackgroundTask("request-id-janitor")

    async def run_once(self) -> int:
        return await purge_request_ids(self._engine, self._clock() - self._retention)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                purged = await self.run_once()
            except Exception as exc:  # the database may be down; try again next round
                log.warning("could not purge expired request ids: %s", type(exc).__name__)
                continue
            if purged:
                log.info("purged %d expired request ids", purged)

    def start(self) -> None:
        self._background.start(self._run())

    async def stop(self) -> None:
        await self._background.stop()
