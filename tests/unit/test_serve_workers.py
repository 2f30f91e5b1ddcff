"""How `serve --workers N` starts its workers: the command line, and what N `auto` means."""

import os

from usersuite.cli.serve_workers import worker_argv
from usersuite.ops.workers import worker_count


def test_a_worker_runs_the_same_command_without_workers_on_the_resolved_address() -> None:
    argv = ["serve", "--workers", "2", "--listen", "0.0.0.0:0", "--migrate"]
    assert worker_argv(argv, "0.0.0.0:50051") == [
        "serve", "--listen", "0.0.0.0:0", "--migrate", "--listen", "0.0.0.0:50051", "--worker",
    ]  # fmt: skip
    assert worker_argv(["serve", "--workers=auto"], "127.0.0.1:1") == [
        "serve", "--listen", "127.0.0.1:1", "--worker",
    ]  # fmt: skip


def test_auto_is_the_cpus_this_process_may_run_on() -> None:
    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count(3) == 3
