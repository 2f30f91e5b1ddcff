"""Runs real `usersuite` processes, long-running or to completion, for the end-to-end tests."""

import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.tools import describe, run, tool_path, which

READY_PREFIX = "usersuite ready on"
# Every service's ready line: `usersuite ready on ...` (users) or `usersuite billing ready on ...`.
READY_LINE = re.compile(r"usersuite(?: [a-z]+)? ready on \S*:(\d+) ")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
E2E_PAGE_TOKEN_SECRET = "e2e-page-token-secret-0123456789abcdefghij"


def child_env(**values: str) -> dict[str, str]:
    """The environment of a child process: ours without USERSUITE_* settings, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("USERSUITE_")}
    env["PATH"] = tool_path()
    env.update(values)
    return env


def production_env(**values: str) -> dict[str, str]:
    """What production mode insists on: a strong page token secret, and auth configured. These
    tests call without credentials, so auth is switched off explicitly, the documented way."""
    defaults = {
        "USERSUITE_PAGE_TOKEN_SECRET": E2E_PAGE_TOKEN_SECRET,
        "USERSUITE_AUTH__ENABLED": "false",
    }
    return child_env(**{**defaults, **values})


def server_env(database_url: str, **values: str) -> dict[str, str]:
    """The environment of a production-mode server on `database_url`."""
    return production_env(**{"USERSUITE_DATABASE_URL": database_url, **values})


def run_usersuite(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs a `usersuite` command to completion."""
    return run("usersuite", *args, cwd=cwd, env=env, timeout=timeout)


def run_shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs a command line as printed for a person to paste into a shell."""
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def migrate_with_cli(database_url: str) -> None:
    """`usersuite migrate`, as an operator runs it before the first `serve`."""
    result = run_usersuite("migrate", env=server_env(database_url))
    assert result.returncode == 0, f"usersuite migrate failed\n{describe(result)}"
    assert "database schema at" in result.stdout, describe(result)


def serve_args(*extra: str) -> list[str]:
    """`serve` on a free loopback port (port 0, reported in the ready line); metrics likewise."""
    return ["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", *extra]


class UsersuiteProcess:
    """A long-running `usersuite serve|dev` process: started, awaited ready, always stopped."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: Path,
        log_dir: Path,
        executable: str | None = None,
    ) -> None:
        """`executable` defaults to the repository's `usersuite` (another venv's, for instance)."""
        self.args = args
        self.stderr_path = log_dir / f"usersuite-{time.monotonic_ns()}.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [executable or which("usersuite"), *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        # Drains stdout for the whole life of the process, so the child never blocks on a pipe.
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.ready_line = ""
        self.port = 0

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stderr_text(self) -> str:
        return self.stderr_path.read_text()

    def output(self) -> str:
        stdout = "\n".join(self.stdout_lines)
        return (
            f"`usersuite {' '.join(self.args)}` exit status {self.proc.poll()}\n"
            f"stdout:\n{stdout}\nstderr:\n{self.stderr_text()}"
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str:
        """Waits (bounded) for the ready line; fails with the process's output if it never comes."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"no ready line within {timeout}s\n{self.output()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=STOP_TIMEOUT)
                pytest.fail(f"usersuite exited before it was ready\n{self.output()}")
            match = READY_LINE.match(line)
            if match:
                self.ready_line = line
                self.port = int(match.group(1))
                assert self.port > 0, f"ready line reports port 0: {line!r}"
                return line

    def terminate(self) -> None:
        """Sends SIGTERM, as an orchestrator does to stop a pod."""
        self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no shutdown code runs. Waits until it is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit status; SIGKILL (and a failure) if the process does not exit in time."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"usersuite did not exit within {timeout}s; killed\n{self.output()}")
        self._reader.join(timeout=10)  # every line the process printed is in stdout_lines
        return code

    def stop(self) -> None:
        """Teardown: SIGTERM, wait, SIGKILL as the last resort. Safe to call more than once."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        self._stderr.close()


Launch = Callable[..., UsersuiteProcess]
