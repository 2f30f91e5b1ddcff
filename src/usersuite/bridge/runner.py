"""Runs the relay as a process: until SIGTERM/SIGINT, finishing the batch in flight."""

import logging
from collections.abc import Callable

from usersuite.bootstrap import BridgeContainer
from usersuite.lifecycle import stop_on_signals

log = logging.getLogger(__name__)


async def run_bridge(container: BridgeContainer, on_ready: Callable[[], None]) -> int:
    async with stop_on_signals() as stopping:
        on_ready()
        try:
            await container.relay.run(stopping)
        finally:
            await container.close()
    log.info("bridge stopped")
    return 0
