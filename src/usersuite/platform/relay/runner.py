"""Runs the relay as a process: until SIGTERM/SIGINT, finishing the batch in flight."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from usersuite.platform.ops.http import ops_listener
from usersuite.platform.ops.lifecycle import freeze_startup_objects, stop_on_signals
from usersuite.platform.relay.container import BridgeContainer

log = logging.getLogger(__name__)


async def _until_built(
    build: Callable[[], Awaitable[BridgeContainer]], stopping: asyncio.Event
) -> BridgeContainer | None:
    """The container, or None when a stop signal comes first (e.g. while NATS is unreachable)."""
    building = asyncio.ensure_future(build())
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({building, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not building.done():
        building.cancel()
        await asyncio.gather(building, return_exceptions=True)
        return None
    return building.result()


async def run_bridge(
    build: Callable[[], Awaitable[BridgeContainer]], on_ready: Callable[[], None]
) -> int:
    async with stop_on_signals() as stopping:
        container = await _until_built(build, stopping)
        if container is None:
            log.info("bridge stopped before it was ready")
            return 0
        try:
            with ops_listener(
                container.settings.metrics_listen,
                container.registry,
                ready=lambda: container.relay.ready and not stopping.is_set(),
                live=container.relay.liveness.alive,
            ):
                freeze_startup_objects()
                on_ready()
                await container.relay.run(stopping)
        finally:
            await container.close()
    log.info("bridge stopped")
    return 0
