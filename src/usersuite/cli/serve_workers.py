"""`usersuite serve --workers N`: the supervising parent of N serving processes.

The parent holds the port, serves the one /metrics (prometheus_client's multiprocess mode sums
the workers' counters and histograms) with /healthz and /readyz (ready while every worker
serves), and re-runs this same command line for each worker with `--worker` and the resolved
address. Each worker is a whole `serve`: single-threaded asyncio with its own database pool.
"""

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, multiprocess

from usersuite.config import Settings, parse_address
from usersuite.ops.http import ops_listener
from usersuite.ops.workers import Supervisor, hold_port

WORKER_FLAG = "--worker"


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
    metrics_dir = tempfile.mkdtemp(prefix="usersuite-metrics-")
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
