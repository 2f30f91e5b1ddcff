"""Several processes serving one port: the parent holds the port and supervises the workers.

The parent serves no calls. It checks the address is free and keeps it (so a taken port fails
before any worker starts, and no other program can join the workers later), starts N workers that
listen with SO_REUSEPORT (the kernel spreads connections, not calls, across them), starts again a
worker that dies, and forwards SIGTERM/SIGINT so that every worker drains. A worker tells it is
serving by printing one line on its standard output.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from usersuite.config.addresses import AddressInUse
from usersuite.ops.lifecycle import stop_on_signals

log = logging.getLogger(__name__)
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
# A worker that served this long before it died is started again at once.
STEADY_SECONDS = 30.0


def worker_count(value: int | str) -> int:
    """`auto`: the CPUs this process may run on (its affinity, which container CPU sets limit;
    a CPU quota is not visible here, so under a quota give N explicitly)."""
    if value == "auto":
        return len(os.sched_getaffinity(0))
    return int(value)


def hold_port(host: str, port: int) -> socket.socket:
    """Fails loudly if anything has the address; otherwise keeps it for the workers.

    The probe binds without SO_REUSEPORT, which any other socket on the port refuses. The socket
    kept is bound with SO_REUSEPORT and never listens: the workers' listening sockets join it,
    and every later program (another usersuite too) is refused as the probe would have been.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    held = socket.socket(family, socket.SOCK_STREAM)
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
            port = probe.getsockname()[1]
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.bind((host, port))
    except OSError as exc:
        held.close()
        raise AddressInUse(f"cannot listen on {host}:{port} (gRPC): {exc}", "listen") from None
    return held


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    serving: bool = False


class Supervisor:
    """Keeps `count` workers running `command`; `on_exit(pid)` is told of each one that ends."""

    def __init__(
        self,
        count: int,
        command: Sequence[str],
        *,
        env: dict[str, str],
        grace_seconds: float,
        on_exit: Callable[[int], None] = lambda pid: None,
    ) -> None:
        self._workers = [_Worker(index) for index in range(count)]
        self._command = list(command)
        self._env = env
        self._grace = grace_seconds
        self._on_exit = on_exit
        self._stopping = False
        self._all_serving = asyncio.Event()

    @property
    def ready(self) -> bool:
        """Every worker serving (read from the ops HTTP thread: flags only)."""
        return not self._stopping and all(worker.serving for worker in self._workers)

    async def run(self, on_ready: Callable[[], None]) -> int:
        """Runs the workers until SIGTERM/SIGINT, then stops them; returns the exit code."""
        async with stop_on_signals() as stopping:
            keepers = [asyncio.create_task(self._keep(worker)) for worker in self._workers]
            serving = asyncio.create_task(self._all_serving.wait())
            stop = asyncio.create_task(stopping.wait())
            await asyncio.wait((serving, stop), return_when=asyncio.FIRST_COMPLETED)
            if serving.done() and not stopping.is_set():
                on_ready()
            await stop
            serving.cancel()
            self._stopping = True
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            await self._stop_workers()
        return 0

    async def _keep(self, worker: _Worker) -> None:
        """Starts the worker, and again whenever it dies, backing off while it keeps dying."""
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *self._command, stdout=asyncio.subprocess.PIPE, env=self._env
            )
            worker.process = process
            log.info("worker %d started (pid %d)", worker.index, process.pid)
            forwarding = asyncio.create_task(self._forward(worker, process))
            code = await process.wait()
            await forwarding
            worker.serving = False
            self._on_exit(process.pid)
            log.error("worker %d (pid %d) ended with %s; starting it again",
                      worker.index, process.pid, code)  # fmt: skip
            if time.monotonic() - started >= STEADY_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _forward(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        """The first line says the worker serves; later output goes to our standard output."""
        assert process.stdout is not None
        first = True
        async for line in process.stdout:
            if first:
                first = False
                worker.serving = True
                if all(other.serving for other in self._workers):
                    self._all_serving.set()
                continue
            sys.stdout.buffer.write(line)
            sys.stdout.flush()

    async def _stop_workers(self) -> None:
        """SIGTERM to each worker, which drains for its grace period; SIGKILL to stragglers."""
        running = [w.process for w in self._workers if w.process and w.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), self._grace + 5)
            except TimeoutError:
                log.error("worker pid %d did not drain in time; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            self._on_exit(process.pid)
