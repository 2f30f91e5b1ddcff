"""`usersuite serve --workers N`: one port, N supervised processes, one /metrics."""

import contextlib
import os
import signal
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.grpcurl import Grpcurl
from tests.support.ports import free_port
from tests.support.processes import Launch, UsersuiteProcess, run_usersuite, server_env
from tests.support.waiting import eventually, holds

WORKERS = 2
WAIT_SECONDS = 60.0
LIST_USERS = "user.v1.UserService/ListUsers"
POOL_SIZE = 10  # database.pool_size's default


def workers_of(parent: UsersuiteProcess) -> set[int]:
    """The parent's child processes (its workers)."""
    pid = parent.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def ready(metrics_port: int) -> bool:
    return http_get(metrics_port, "/readyz")[0] == 200


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def start_workers(
    launch: Launch, url: str, metrics_port: int, tmp: Path, listen: str = "127.0.0.1:0", **env: str
) -> UsersuiteProcess:
    """`serve --workers 2`, its temporary files (the metrics directory) under `tmp`."""
    args = ["serve", "--listen", listen, "--metrics-listen", f"127.0.0.1:{metrics_port}",
            "--workers", str(WORKERS)]  # fmt: skip
    env = {"USERSUITE_SHUTDOWN_GRACE_SECONDS": "10", "TMPDIR": str(tmp), **env}
    server = launch(args, server_env(url, **env))
    server.wait_ready()
    assert f"{WORKERS} workers" in server.ready_line
    return server


@dataclass
class Workers:
    server: UsersuiteProcess
    metrics_port: int
    grpcurl: Grpcurl


@pytest.fixture
def workers(launch: Launch, migrated_database: str, grpcurl_bin: str, tmp_path: Path) -> Workers:
    metrics_port = free_port()
    server = start_workers(launch, migrated_database, metrics_port, tmp_path)
    return Workers(server, metrics_port, Grpcurl(grpcurl_bin, server.target))


async def test_a_killed_worker_is_started_again_and_the_port_keeps_serving(
    workers: Workers,
) -> None:
    server, metrics_port, grpcurl = workers.server, workers.metrics_port, workers.grpcurl
    ada = {"display_name": "Ada Lovelace", "email": "ada@example.com"}
    name = grpcurl.ok("user.v1.UserService/CreateUser", {"user": ada})["name"]
    before = workers_of(server)
    assert len(before) == WORKERS
    assert http_get(metrics_port, "/readyz")[0] == 200

    victim = min(before)
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        now = workers_of(server)
        return len(now) == WORKERS and len(now - before) == 1

    await eventually(holds(replaced), WAIT_SECONDS, "a new worker replaces the killed one")
    await eventually(holds(lambda: ready(metrics_port)), WAIT_SECONDS, "ready again")
    assert victim not in workers_of(server)
    for _ in range(6):  # a new connection each: the kernel spreads them over both workers
        assert grpcurl.ok("user.v1.UserService/GetUser", {"name": name})["email"] == ada["email"]


def test_metrics_sum_every_workers_calls(workers: Workers) -> None:
    calls = 12
    for _ in range(calls):  # a new connection each: the kernel spreads them over both workers
        workers.grpcurl.ok(LIST_USERS, {"page_size": 1})
    status, text = http_get(workers.metrics_port, "/metrics")
    assert status == 200
    handled = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "grpc_server_handled_total"
        and sample.labels.get("grpc_method") == "ListUsers"
    )
    assert handled == calls


def test_sigterm_drains_every_worker_and_the_parent_exits_zero(workers: Workers) -> None:
    server = workers.server
    children = workers_of(server)
    server.terminate()
    assert server.wait() == 0, server.output()
    assert not any(alive(pid) for pid in children)
    assert "ended with" not in server.stderr_text()  # stopped, not restarted


def test_a_taken_port_fails_loudly_before_any_worker_starts(migrated_database: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_usersuite(
            "serve", "--listen", f"127.0.0.1:{port}", "--metrics-listen", "127.0.0.1:0",
            "--workers", str(WORKERS), env=server_env(migrated_database), timeout=60,
        )  # fmt: skip
    assert result.returncode == 2, result
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_second_server_cannot_join_the_workers_port(
    workers: Workers, migrated_database: str
) -> None:
    result = run_usersuite(
        "serve", "--listen", workers.server.target, "--metrics-listen", "127.0.0.1:0",
        "--workers", str(WORKERS), env=server_env(migrated_database), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result
    assert "cannot listen" in result.stderr


@contextlib.contextmanager
def killed_at_exit(pids: set[int]) -> Iterator[None]:
    """Whatever the test's outcome, the workers it stopped or orphaned do not outlive it."""
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def metrics_dirs(tmp: Path) -> list[str]:
    return sorted(path.name for path in tmp.glob("usersuite-metrics-*"))


def this_run(tmp: Path, server: UsersuiteProcess) -> str:
    """The metrics directory of `server`'s run: named by its pid (and its start time)."""
    (mine,) = [
        name
        for name in metrics_dirs(tmp)
        if name.startswith(f"usersuite-metrics-{server.proc.pid}-")
    ]
    return mine


async def test_workers_stop_with_their_killed_parent_and_a_new_serve_binds(
    launch: Launch, migrated_database: str, tmp_path: Path
) -> None:
    metrics_port = free_port()
    server = start_workers(launch, migrated_database, metrics_port, tmp_path)
    orphans = workers_of(server)
    with killed_at_exit(orphans):
        server.proc.kill()
        server.proc.wait()
        await eventually(
            holds(lambda: not any(alive(pid) for pid in orphans)),
            WAIT_SECONDS,
            "the workers of a killed parent exit",
        )
    assert len(metrics_dirs(tmp_path)) == 1  # the killed parent could not remove its own
    again = start_workers(launch, migrated_database, metrics_port, tmp_path, listen=server.target)
    assert again.port == server.port
    # The new parent removed the killed one's metrics directory on start.
    assert metrics_dirs(tmp_path) == [this_run(tmp_path, again)]


async def test_metrics_files_of_earlier_runs_are_removed_on_start(
    launch: Launch, migrated_database: str, tmp_path: Path
) -> None:
    # A run whose parent died without cleaning up: pid 0 was never a parent of ours.
    earlier = tmp_path / "usersuite-metrics-0-1"
    earlier.mkdir()
    (earlier / "counter_4242.db").write_bytes(b"\0" * 16)
    server = start_workers(launch, migrated_database, free_port(), tmp_path)
    assert not earlier.exists()
    assert metrics_dirs(tmp_path) == [this_run(tmp_path, server)]


async def test_a_stopped_worker_makes_the_parent_not_ready_and_is_replaced(
    workers: Workers,
) -> None:
    server, metrics_port = workers.server, workers.metrics_port
    before = workers_of(server)
    stopped = min(before)
    with killed_at_exit({stopped}):
        os.kill(stopped, signal.SIGSTOP)
        await eventually(
            holds(lambda: not ready(metrics_port)), WAIT_SECONDS, "not ready: a worker is silent"
        )
        await eventually(
            holds(lambda: stopped not in workers_of(server) and len(workers_of(server)) == WORKERS),
            WAIT_SECONDS,
            "the silent worker is replaced",
        )
    await eventually(holds(lambda: ready(metrics_port)), WAIT_SECONDS, "ready again")
    assert f"(pid {stopped}) sent no heartbeat" in server.stderr_text()


def test_workers_that_do_not_drain_are_killed_together_at_one_deadline(
    launch: Launch, migrated_database: str, tmp_path: Path
) -> None:
    server = start_workers(
        launch, migrated_database, free_port(), tmp_path, USERSUITE_SHUTDOWN_GRACE_SECONDS="1"
    )
    stuck = workers_of(server)
    with killed_at_exit(stuck):
        for pid in stuck:  # a stopped process leaves SIGTERM pending: it cannot drain
            os.kill(pid, signal.SIGSTOP)
        server.terminate()
        assert server.wait() == 0, server.output()
    assert not any(alive(pid) for pid in stuck)
    # One deadline for every worker: the stragglers are killed at once, not one deadline each.
    pids = ", ".join(map(str, sorted(stuck)))
    assert f"workers {pids} did not drain within 6.0s; killing them" in server.stderr_text()


async def test_pool_gauges_of_every_worker_are_summed_in_metrics(workers: Workers) -> None:
    def pool_size() -> float | None:
        _, text = http_get(workers.metrics_port, "/metrics")
        sizes = [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "usersuite_db_pool_size"
        ]
        return sizes[0] if sizes else None

    # Each worker writes its gauges on every heartbeat, the first one as its loop starts.
    await eventually(
        holds(lambda: pool_size() == WORKERS * POOL_SIZE), WAIT_SECONDS, "both workers' pools"
    )
    _, text = http_get(workers.metrics_port, "/metrics")
    assert "usersuite_db_pool_checked_out" in text
    assert "usersuite_db_pool_overflow" in text
