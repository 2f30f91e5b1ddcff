"""Several processes serving one port: the parent holds the port and supervises the workers.

The parent serves no calls. It checks the address is free and keeps it (so a taken port fails
before any worker starts, and no other program can join the workers later), starts N workers that
listen with SO_REUSEPORT (the kernel spreads connections, not calls, across them), starts again a
worker that dies or stops beating (usersuite.platform.ops.lifeline), and forwards SIGTERM/SIGINT
so that every worker drains under one shared deadline. A worker tells it is serving by printing
one line on its standard output.
"""

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from usersuite.platform.config.addresses import AddressInUse
from usersuite.platform.ops.lifecycle import stop_on_signals
from usersuite.platform.ops.lifeline import LIFELINE_ENV, watch_beats

log = logging.getLogger(__name__)
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
# A worker that served this long before it died is started again at once.
STEADY_SECONDS = 30.0
# A worker whose loop has not beaten (one beat a second) for this long is killed and started
# again: long enough for a busy loop on a crowded machine, short beside a probe's patience.
SILENCE_LIMIT_SECONDS = 10.0
# What a worker may take beyond its drain (closing its pool) before it is killed; the chart's
# termination grace leaves room for it: every worker drains at once, under one deadline.
STOP_MARGIN_SECONDS = 5.0


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
        silence_limit: float = SILENCE_LIMIT_SECONDS,
    ) -> None:
        self._workers = [_Worker(index) for index in range(count)]
        self._command = list(command)
        self._env = env
        self._grace = grace_seconds
        self._on_exit = on_exit
        self._silence_limit = silence_limit
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
            ours, theirs = socket.socketpair()
            with ours:
                with theirs:
                    process = await asyncio.create_subprocess_exec(
                        *self._command,
                        stdout=asyncio.subprocess.PIPE,
                        env={**self._env, LIFELINE_ENV: str(theirs.fileno())},
                        pass_fds=(theirs.fileno(),),
                    )
                worker.process = process
                log.info("worker %d started (pid %d)", worker.index, process.pid)
                forwarding = asyncio.create_task(self._forward(worker, process))
                watching = asyncio.create_task(
                    watch_beats(
                        ours, self._silence_limit, functools.partial(self._silent, worker, process)
                    )
                )
                try:
                    code = await process.wait()
                    await forwarding
                finally:
                    watching.cancel()
            worker.serving = False
            self._on_exit(process.pid)
            log.error("worker %d (pid %d) ended with %s; starting it again",
                      worker.index, process.pid, code)  # fmt: skip
            if time.monotonic() - started >= STEADY_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _silent(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        """Not ready at once, and killed: a stopped or stuck worker does not answer SIGTERM."""
        worker.serving = False
        log.error("worker %d (pid %d) sent no heartbeat for %ss; killing it",
                  worker.index, process.pid, self._silence_limit)  # fmt: skip
        with contextlib.suppress(ProcessLookupError):
            process.kill()

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
        """SIGTERM to every worker, which drains for its grace period; one deadline for all of
        them, then SIGKILL to the stragglers together (not a deadline each in turn, which N
        workers would multiply past the orchestrator's termination grace)."""
        running = [w.process for w in self._workers if w.process and w.process.returncode is None]
        if not running:
            return
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = self._grace + STOP_MARGIN_SECONDS
        exits = {asyncio.create_task(process.wait()): process for process in running}
        _, pending = await asyncio.wait(exits, timeout=deadline)
        if pending:
            stragglers = sorted(exits[exit].pid for exit in pending)
            log.error("workers %s did not drain within %ss; killing them",
                      ", ".join(map(str, stragglers)), deadline)  # fmt: skip
            for exit in pending:
                with contextlib.suppress(ProcessLookupError):
                    exits[exit].kill()
            await asyncio.wait(pending)
        for process in running:
            self._on_exit(process.pid)
