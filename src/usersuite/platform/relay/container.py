"""What the relay process is made of; the composition root builds it, the runner runs it."""

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.config import Settings
from usersuite.platform.relay.relay import Relay


@dataclass
class BridgeContainer:
    settings: Settings
    engine: AsyncEngine
    nats: NatsClient
    relay: Relay
    registry: CollectorRegistry

    async def close(self) -> None:
        if not self.nats.is_closed:
            await self.nats.close()
        await self.engine.dispose()
