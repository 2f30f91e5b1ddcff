"""Keeps the standard health service in step with the database: NOT_SERVING while it is down."""

import asyncio
import logging

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.ops.background import BackgroundTask

log = logging.getLogger(__name__)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class DatabaseHealthMonitor:
    """Probes the database every `interval` seconds and sets every served service's status."""

    def __init__(
        self,
        health: health_aio.HealthServicer,
        engine: AsyncEngine,
        services: tuple[str, ...],
        interval: float,
    ) -> None:
        self._health = health
        self._engine = engine
        self._services = ("", *services)
        self._interval = interval
        self._background = BackgroundTask("db-health-monitor")
        self._serving: bool | None = None

    @property
    def serving(self) -> bool:
        return bool(self._serving)

    async def probe(self) -> bool:
        try:
            # Probes every few seconds would each become a trace of their own.
            with suppress_instrumentation():
                async with asyncio.timeout(max(self._interval, 1.0)):
                    async with self._engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means: not ready to serve
            if self._serving is not False:
                log.warning("database unreachable, health NOT_SERVING: %s", type(exc).__name__)
            return False
        return True

    async def check_once(self) -> None:
        serving = await self.probe()
        if serving != self._serving:
            if serving and self._serving is False:
                log.info("database reachable again, health SERVING")
            self._serving = serving
            for service in self._services:
                await self._health.set(service, SERVING if serving else NOT_SERVING)

    async def _run(self) -> None:
        # `start` has just probed: the next probe is one interval away.
        while True:
            await asyncio.sleep(self._interval)
            await self.check_once()

    async def start(self) -> None:
        await self.check_once()
        self._background.start(self._run())

    async def stop(self) -> None:
        await self._background.stop()
