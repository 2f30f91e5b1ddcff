"""The saga's deadline scanner: a Housekeeper of the API process that applies on_deadline to
overdue sagas every scan interval (PostgreSQL replicas share the work: SKIP LOCKED)."""

import asyncio
import logging

from usersuite.orders.service.saga_handlers import SagaHandlers
from usersuite.platform.db.availability import is_unavailable
from usersuite.platform.ops.background import BackgroundTask
from usersuite.platform.ops.errors import describe

log = logging.getLogger(__name__)


class DeadlineScanner:
    def __init__(self, sagas: SagaHandlers, interval_seconds: float, batch_size: int) -> None:
        self._sagas = sagas
        self._interval = interval_seconds
        self._batch = batch_size
        self._task = BackgroundTask("saga-deadlines")

    def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        while True:
            moved = await self.scan_once()
            if moved < self._batch:  # a full batch: more may be waiting, scan again at once
                await asyncio.sleep(self._interval)

    async def scan_once(self) -> int:
        """One batch; trouble is logged and tried again next round."""
        try:
            return await self._sagas.scan_deadlines()
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("saga deadlines not scanned, the database is unavailable: %s",
                            describe(exc))  # fmt: skip
            else:
                log.exception("saga deadline scan failed")
            return 0
