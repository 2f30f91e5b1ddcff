"""The relay's housekeeping between batches: backlog gauges, and purging old dispatched rows."""

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.config.groups import BridgeSettings
from usersuite.platform.db import outbox_store
from usersuite.platform.relay.metrics import RelayMetrics

BACKLOG_REFRESH_SECONDS = 2.0
# Small purge batches, each its own short transaction, at most this many per round.
PURGE_BATCHES_PER_ROUND = 10


class Maintenance:
    def __init__(
        self, settings: BridgeSettings, metrics: RelayMetrics, clock: Callable[[], datetime]
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._last_backlog = 0.0
        self._last_retention = 0.0

    async def run(self, conn: AsyncConnection) -> None:
        now = time.monotonic()
        if now - self._last_backlog >= BACKLOG_REFRESH_SECONDS:
            self._last_backlog = now
            await self._backlog(conn)
        if now - self._last_retention >= self._settings.retention_interval_seconds:
            self._last_retention = now
            await self._purge(conn)

    async def _backlog(self, conn: AsyncConnection) -> None:
        async with conn.begin():
            backlog = await outbox_store.backlog(conn)
        self._metrics.backlog.set(backlog.pending)
        self._metrics.parked.set(backlog.parked)
        age = 0.0
        if backlog.oldest_pending is not None:
            age = max(0.0, (self._clock() - backlog.oldest_pending).total_seconds())
        self._metrics.oldest_pending_age.set(age)

    async def _purge(self, conn: AsyncConnection) -> None:
        cutoff = outbox_store.retention_cutoff(self._clock(), self._settings.retention_hours)
        for _ in range(PURGE_BATCHES_PER_ROUND):
            async with conn.begin():
                deleted = await outbox_store.purge_dispatched(
                    conn, cutoff, self._settings.retention_batch_size
                )
            if deleted < self._settings.retention_batch_size:
                break
