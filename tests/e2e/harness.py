"""Runs real `usersuite` processes and real grpcurl for the end-to-end tests."""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL_BIN = REPO_ROOT / ".bin"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
READY_PREFIX = "usersuite ready on"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
E2E_PAGE_TOKEN_SECRET = "e2e-page-token-secret-0123456789abcdefghij"
# grpcurl's exit status for an RPC error is 64 + the gRPC status code.
GRPCURL_ERROR_BASE = 64


def tool_path() -> str:
    """PATH with the repository's tools first: grpcurl in .bin, usersuite in the venv."""
    return os.pathsep.join([str(TOOL_BIN), str(VENV_BIN), os.environ.get("PATH", "")])


def find_tool(name: str) -> str:
    """The tool's absolute path; a missing tool fails the test (installing it is a setup step)."""
    found = shutil.which(name, path=tool_path())
    if found is None:
        pytest.fail(f"{name} is not installed (looked in {TOOL_BIN}, {VENV_BIN}, $PATH)")
    return found


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


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A finished process's exit status and output, for assertion messages."""
    return f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def run_usersuite(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs a `usersuite` command to completion."""
    return subprocess.run(
        [find_tool("usersuite"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class EmptyDatabases:
    """Creates databases with no schema at all (unlike `postgres.new_database()`); drops them."""

    def __init__(self, postgres: Any) -> None:
        self._admin = make_url(postgres.admin_url)
        self._created: list[str] = []

    def _execute(self, sql: str) -> None:
        plain = self._admin.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create(self) -> str:
        name = f"usersuite_e2e_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        self._created.append(name)
        url = self._admin.set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self._created:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


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
            [executable or find_tool("usersuite"), *args],
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
            if line.startswith(READY_PREFIX):
                self.ready_line = line
                match = re.match(rf"{READY_PREFIX} \S*:(\d+) ", line)
                assert match, f"ready line names no port: {line!r}"
                self.port = int(match.group(1))
                assert self.port > 0, f"ready line reports port 0: {line!r}"
                return line

    def terminate(self) -> None:
        """Sends SIGTERM, as an orchestrator does to stop a pod."""
        self.proc.send_signal(signal.SIGTERM)

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


@dataclass
class GrpcurlResult:
    """One grpcurl run: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit status {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    def json(self) -> Any:
        assert self.returncode == 0, f"grpcurl failed\n{self}"
        return json.loads(self.stdout)


class Grpcurl:
    """Real grpcurl against a server, using reflection only (no proto files)."""

    def __init__(self, executable: str, target: str) -> None:
        self.executable = executable
        self.target = target

    def run(self, *args: str, timeout: float = 60) -> GrpcurlResult:
        result = subprocess.run(
            [self.executable, "-plaintext", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=child_env(),
        )
        return GrpcurlResult(result.returncode, result.stdout, result.stderr)

    def inspect(self, *args: str) -> str:
        """`grpcurl <target> list|describe ...`: its standard output."""
        result = self.run(self.target, *args)
        assert result.returncode == 0, f"grpcurl {' '.join(args)} failed\n{result}"
        return result.stdout

    def call(self, method: str, request: dict[str, Any]) -> GrpcurlResult:
        return self.run("-format-error", "-d", json.dumps(request), self.target, method)

    def ok(self, method: str, request: dict[str, Any]) -> Any:
        """Calls `method` and returns the JSON response; the call must succeed."""
        return self.call(method, request).json()

    def error(self, method: str, request: dict[str, Any], code: int) -> dict[str, Any]:
        """Calls `method`, which must fail with `code`; returns the printed google.rpc.Status."""
        result = self.call(method, request)
        assert result.returncode == GRPCURL_ERROR_BASE + code, (
            f"expected gRPC code {code} (grpcurl exit {GRPCURL_ERROR_BASE + code})\n{result}"
        )
        status: dict[str, Any] = json.loads(result.stderr)
        assert status["code"] == code, status
        return status


def error_info(status: dict[str, Any]) -> dict[str, Any]:
    """The one google.rpc.ErrorInfo of a printed status."""
    infos = [d for d in status.get("details", []) if d["@type"].endswith("/google.rpc.ErrorInfo")]
    assert len(infos) == 1, f"expected exactly one ErrorInfo: {status}"
    return infos[0]


def field_violations(status: dict[str, Any]) -> dict[str, str]:
    """field -> description of the google.rpc.BadRequest of a printed status (empty if none)."""
    bad = [d for d in status.get("details", []) if d["@type"].endswith("/google.rpc.BadRequest")]
    assert len(bad) <= 1, f"more than one BadRequest: {status}"
    if not bad:
        return {}
    # grpcurl prints the details with their proto field names.
    violations = bad[0].get("field_violations", bad[0].get("fieldViolations", []))
    return {v["field"]: v.get("description", "") for v in violations}
