"""Runs the relay as a process: until SIGTERM/SIGINT, finishing the batch in flight."""

import logging
from collections.abc import Callable

from usersuite.api.ops_http import ops_listener
from usersuite.bootstrap import BridgeContainer
from usersuite.lifecycle import stop_on_signals

log = logging.getLogger(__name__)


async def run_bridge(container: BridgeContainer, on_ready: Callable[[], None]) -> int:
    async with stop_on_signals() as stopping:
        try:
            with ops_listener(
                container.settings.metrics_listen,
                container.registry,
                ready=lambda: container.relay.ready and not stopping.is_set(),
            ):
                on_ready()
                await container.relay.run(stopping)
        finally:
            await container.close()
    log.info("bridge stopped")
    return 0
