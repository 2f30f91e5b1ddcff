"""Runs the relay as a process: until SIGTERM/SIGINT, finishing the batch in flight."""

import asyncio
import logging
import signal
from collections.abc import Callable

from usersuite.bootstrap import BridgeContainer

log = logging.getLogger(__name__)


async def run_bridge(container: BridgeContainer, on_ready: Callable[[], None]) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    relay = asyncio.create_task(container.relay.run(stopping), name="relay")
    on_ready()
    try:
        await relay
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await container.close()
    log.info("bridge stopped")
    return 0
