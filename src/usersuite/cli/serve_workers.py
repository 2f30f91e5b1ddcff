"""`usersuite serve --workers N`: the supervising parent of N serving processes.

The parent holds the port, serves the one /metrics (prometheus_client's multiprocess mode sums
the workers' counters and histograms) with /healthz and /readyz (ready while every worker
serves), and re-runs this same command line for each worker with `--worker` and the resolved
address. Each worker is a whole `serve`: single-threaded asyncio with its own database pool.
"""

import asyncio
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, multiprocess

from usersuite.platform.config import Settings, parse_address
from usersuite.platform.ops.http import ops_listener
from usersuite.platform.ops.lifeline import keep_lifeline
from usersuite.platform.ops.workers import Supervisor, hold_port

if TYPE_CHECKING:
    from usersuite.platform.grpc.container import Container

WORKER_FLAG = "--worker"
METRICS_DIR_PREFIX = "usersuite-metrics-"
_RUN_DIR = re.compile(rf"{METRICS_DIR_PREFIX}(\d+)-(\d+)")


def worker_argv(argv: Sequence[str], listen: str) -> list[str]:
    """This command line as a worker runs it: no --workers, the resolved address, --worker."""
    kept: list[str] = []
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg == "--workers":
            skip_value = True
        elif not arg.startswith("--workers="):
            kept.append(arg)
    return [*kept, "--listen", listen, WORKER_FLAG]


def supervise(settings: Settings, count: int, on_ready: Callable[[int], None]) -> int:
    """Runs `count` workers until SIGTERM/SIGINT; `on_ready(port)` once every one serves."""
    host, port = parse_address(settings.listen)
    held = hold_port(host, port)
    port = held.getsockname()[1]
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    metrics_dir = metrics_dir_of_this_run()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=metrics_dir)  # type: ignore[no-untyped-call]
    supervisor = Supervisor(
        count,
        [sys.executable, "-m", "usersuite.cli", *worker_argv(sys.argv[1:], listen)],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir},
        grace_seconds=settings.shutdown_grace_seconds,
        on_exit=lambda pid: multiprocess.mark_process_dead(pid, metrics_dir),  # type: ignore[no-untyped-call]
    )
    try:
        with ops_listener(settings.metrics_listen, registry, ready=lambda: supervisor.ready):
            return asyncio.run(supervisor.run(lambda: on_ready(port)))
    finally:
        held.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def metrics_dir_of_this_run() -> str:
    """A new directory for the workers' metrics files, after removing those of earlier runs.

    A parent that was killed leaves its directory behind (its `finally` never ran). Each
    directory is named by its parent's pid and that process's start time, so a directory whose
    parent is gone is told from one of another live `serve --workers` on this machine, even
    once the pid is reused, and a starting run is never mistaken for a dead one.
    """
    base = Path(tempfile.gettempdir())
    for path in base.glob(f"{METRICS_DIR_PREFIX}*"):
        run = _RUN_DIR.fullmatch(path.name)
        if run and _start_time(int(run[1])) != run[2]:
            shutil.rmtree(path, ignore_errors=True)
    pid = os.getpid()
    path = base / f"{METRICS_DIR_PREFIX}{pid}-{_start_time(pid)}"
    path.mkdir(mode=0o700)
    return str(path)


def _start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot, /proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # the name in parentheses may hold spaces


async def as_worker(container: "Container[Any]", serving: Awaitable[int]) -> int:
    """A worker's `serve`: beats to its parent (writing its pool gauges for the parent's
    /metrics on each beat), and stops when the parent is gone."""
    from usersuite.platform.db.pool_metrics import PoolGauges  # see usersuite.cli: heavy imports

    on_beat = PoolGauges(container.engine).update if container.settings.telemetry.metrics else None
    async with keep_lifeline(on_beat or (lambda: None)):
        return await serving
