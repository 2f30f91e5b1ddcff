"""What the API process is made of; the composition root builds it, the server runs it."""

import asyncio
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.config import Settings
from usersuite.platform.grpc.auth.authenticator import Authenticator
from usersuite.platform.grpc.binding import ServiceBinding
from usersuite.platform.grpc.interceptors.observability import GrpcMetrics
from usersuite.platform.ops.background import Housekeeper

# Bounded: with no collector reachable the exporter would retry for long.
TRACE_FLUSH_TIMEOUT_MILLIS = 5000


H = TypeVar("H")


class Closable(Protocol):
    async def close(self) -> None: ...


@dataclass
class Container(Generic[H]):
    """One service's API process; `handlers` are its use cases (tests call them directly)."""

    settings: Settings
    engine: AsyncEngine
    service: ServiceBinding
    handlers: H
    authenticator: Authenticator | None
    registry: CollectorRegistry
    metrics: GrpcMetrics | None
    tracer_provider: TracerProvider | None  # None: tracing off
    # Purges expired request ids; None for a service that takes none.
    janitor: Housekeeper | None
    # What else the service runs beside its API (its event and saga consumers, the saga's
    # deadline scanner): started after the server, stopped before it.
    background: tuple[Housekeeper, ...] = field(default=())
    # What holds database connections of its own (held readers): closed before the engine.
    holders: tuple[Closable, ...] = field(default=())

    @property
    def housekeepers(self) -> tuple[Housekeeper, ...]:
        janitor = () if self.janitor is None else (self.janitor,)
        return (*janitor, *self.background)

    async def close(self) -> None:
        if self.authenticator is not None:
            await self.authenticator.close()
        for holder in self.holders:
            await holder.close()
        await self.engine.dispose()
        if self.tracer_provider is not None:
            provider = self.tracer_provider
            await asyncio.to_thread(provider.force_flush, TRACE_FLUSH_TIMEOUT_MILLIS)
