"""Process lifecycle: SIGTERM/SIGINT start a graceful stop; the one startup sequence."""

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from prometheus_client import CollectorRegistry

from usersuite.platform.ops.http import ops_listener

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
T = TypeVar("T")


@asynccontextmanager
async def stop_on_signals() -> AsyncIterator[asyncio.Event]:
    """An event that is set on SIGTERM/SIGINT while the block runs."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    try:
        yield stopping
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def freeze_startup_objects() -> None:
    """What start-up built (modules, engines, descriptors, the server) lives as long as the
    process: moved out of the garbage collector's sight, a full collection no longer walks it.
    Under load the old generation fills with each call's or batch's survivors, and full
    collections over the start-up objects took a fifth of the relay's CPU."""
    gc.freeze()


async def run_until_stopped(
    stopping: asyncio.Event,
    *,
    metrics_listen: str | None,
    registry: CollectorRegistry,
    start: Callable[[], Awaitable[T]],
    ready: Callable[[T], bool],
    announce: Callable[[T], None],
    stop: Callable[[T], Awaitable[None]],
) -> None:
    """The one startup sequence of a serving process, from the ops listener to the drain.

    The ops listener comes first: if its port is taken, nothing else has started yet. /readyz
    answers ready only once `start` has returned, while `ready` holds and no stop was asked.
    Without `metrics_listen` there is no listener (a worker: its supervisor serves one).
    """
    started: list[T] = []

    def ready_now() -> bool:
        return bool(started) and not stopping.is_set() and ready(started[0])

    listener = (
        ops_listener(metrics_listen, registry, ready=ready_now)
        if metrics_listen is not None
        else contextlib.nullcontext()
    )
    with listener:
        running = await start()
        freeze_startup_objects()
        started.append(running)
        announce(running)
        await stopping.wait()
        await stop(running)
