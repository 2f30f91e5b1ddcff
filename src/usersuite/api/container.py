"""What the API process is made of; the composition root builds it, the server runs it."""

import asyncio
from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.api.auth.authenticator import Authenticator
from usersuite.api.interceptors.observability import GrpcMetrics
from usersuite.config import Settings
from usersuite.ops.background import Housekeeper
from usersuite.service.handlers import UserHandlers

# Bounded: with no collector reachable the exporter would retry for long.
TRACE_FLUSH_TIMEOUT_MILLIS = 5000


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    handlers: UserHandlers
    authenticator: Authenticator | None
    registry: CollectorRegistry
    metrics: GrpcMetrics | None
    tracer_provider: TracerProvider | None  # None: tracing off
    janitor: Housekeeper

    async def close(self) -> None:
        if self.authenticator is not None:
            await self.authenticator.close()
        await self.engine.dispose()
        if self.tracer_provider is not None:
            provider = self.tracer_provider
            await asyncio.to_thread(provider.force_flush, TRACE_FLUSH_TIMEOUT_MILLIS)
