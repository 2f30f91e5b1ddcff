"""The line between `serve --workers N` and each worker: heartbeats up, the parent's life down.

Each worker inherits one end of a socket pair (its descriptor in `LIFELINE_ENV`); the parent
keeps the other. The worker's event loop sends a byte every `BEAT_SECONDS`, so the parent sees
a worker that is stopped or whose loop is stuck, which a "serving" flag cannot show. When the
parent dies, however it dies, the kernel closes its end: the worker reads end-of-file and stops
itself as SIGTERM would, so no orphan keeps the port.

Why a socket rather than PR_SET_PDEATHSIG: the death signal fires when the *thread* that forked
the worker ends, not the process, and setting it needs a preexec_fn, which is unsafe once
threads run (the parent runs its ops HTTP listener in a thread, and grpc starts threads of its
own). A descriptor belongs to the process: it closes exactly when the last holder is gone.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)
# Not USERSUITE_*: that prefix belongs to the settings, which refuse names they do not know.
LIFELINE_ENV = "_USERSUITE_WORKER_LIFELINE_FD"
BEAT_SECONDS = 1.0


@asynccontextmanager
async def keep_lifeline(on_beat: Callable[[], None]) -> AsyncIterator[None]:
    """Worker side: beats (calling `on_beat` first) while the block runs, and sends ourselves
    SIGTERM once the parent is gone. Without a lifeline in the environment, does nothing."""
    fd = os.environ.get(LIFELINE_ENV)
    if fd is None:
        yield
        return
    line = socket.socket(fileno=int(fd))
    line.setblocking(False)
    beating = asyncio.create_task(_beat(line, on_beat))
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        line.close()


async def _beat(line: socket.socket, on_beat: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    # The parent never writes: the only thing this read can return is end-of-file.
    parent_gone = asyncio.ensure_future(loop.sock_recv(line, 1))
    try:
        while not parent_gone.done():
            on_beat()
            # A parent that is alive but not reading fills the buffer: a lost beat is what it
            # asked for, and a blocking send would keep us from noticing its death.
            with contextlib.suppress(BlockingIOError):
                line.send(b".")
            await asyncio.wait([parent_gone], timeout=BEAT_SECONDS)
    finally:
        parent_gone.cancel()
    log.error("the supervising parent is gone; stopping")
    os.kill(os.getpid(), signal.SIGTERM)


async def watch_beats(
    line: socket.socket, silence_limit: float, on_silence: Callable[[], None]
) -> None:
    """Parent side: returns when the worker's end closes; calls `on_silence` (once) if the
    worker, having beaten once, then stays silent for `silence_limit` seconds. The first beat
    comes when the worker's loop runs: its start-up (imports, the database pool) is not timed."""
    loop = asyncio.get_running_loop()
    line.setblocking(False)
    beats = await loop.sock_recv(line, 4096)
    while beats:
        try:
            beats = await asyncio.wait_for(loop.sock_recv(line, 4096), silence_limit)
        except TimeoutError:
            on_silence()
            return
