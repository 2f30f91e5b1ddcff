"""`usersuite serve --workers N`: one port, N supervised processes, one /metrics."""

import os
import signal
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.grpcurl import Grpcurl
from tests.support.ports import free_port
from tests.support.processes import Launch, UsersuiteProcess, run_usersuite, server_env

WORKERS = 2
WAIT_SECONDS = 60.0
LIST_USERS = "user.v1.UserService/ListUsers"


def workers_of(parent: UsersuiteProcess) -> set[int]:
    """The parent's child processes (its workers)."""
    pid = parent.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_SECONDS}s: {what}")
        time.sleep(0.1)


def start_workers(launch: Launch, url: str, metrics_port: int, *extra: str) -> UsersuiteProcess:
    args = ["serve", "--listen", "127.0.0.1:0", "--metrics-listen", f"127.0.0.1:{metrics_port}",
            "--workers", str(WORKERS), *extra]  # fmt: skip
    server = launch(args, server_env(url, USERSUITE_SHUTDOWN_GRACE_SECONDS="10"))
    server.wait_ready()
    assert f"{WORKERS} workers" in server.ready_line
    return server


@dataclass
class Workers:
    server: UsersuiteProcess
    metrics_port: int
    grpcurl: Grpcurl


@pytest.fixture
def workers(launch: Launch, migrated_database: str, grpcurl_bin: str) -> Workers:
    metrics_port = free_port()
    server = start_workers(launch, migrated_database, metrics_port)
    return Workers(server, metrics_port, Grpcurl(grpcurl_bin, server.target))


def test_a_killed_worker_is_started_again_and_the_port_keeps_serving(workers: Workers) -> None:
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

    eventually(replaced, "a new worker replaces the killed one")
    eventually(lambda: http_get(metrics_port, "/readyz")[0] == 200, "ready again")
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
