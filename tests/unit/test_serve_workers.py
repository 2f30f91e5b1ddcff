"""How `serve --workers N` starts its workers: the command line, what N `auto` means, and
whose metrics directories a new run removes."""

import os
import tempfile
from pathlib import Path

import pytest

from usersuite.cli.serve_workers import metrics_dir_of_this_run, worker_argv
from usersuite.platform.ops.workers import worker_count


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


def start_time(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def test_a_new_run_removes_the_metrics_of_gone_parents_and_keeps_live_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    me, parent = os.getpid(), os.getppid()
    # Another live run (our parent process stands for it), our pid with another start time
    # (a dead parent's pid, reused by us), and a parent that is gone.
    live = tmp_path / f"usersuite-metrics-{parent}-{start_time(parent)}"
    reused = tmp_path / f"usersuite-metrics-{me}-{start_time(me) + 1}"
    gone = tmp_path / "usersuite-metrics-0-1"
    for path in (live, reused, gone):
        path.mkdir()
    ours = Path(metrics_dir_of_this_run())
    assert ours.name == f"usersuite-metrics-{me}-{start_time(me)}"
    assert sorted(tmp_path.iterdir()) == sorted([live, ours])
