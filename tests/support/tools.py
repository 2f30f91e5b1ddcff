"""Finds and runs the project's real tools (buf, go, tsc, plugins) the way the Makefile does."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# The buf modules: our contract and the vendored googleapis annotations it imports.
CONTRACT_MODULES = ("proto", "third_party")

# The Makefile's PATH first (venv, .bin, the npm plugins), then the bin directory
# of the interpreter running the tests (its venv), then the caller's PATH.
TOOL_DIRS = (
    REPO_ROOT / ".venv" / "bin",
    REPO_ROOT / ".bin",
    REPO_ROOT / "gen" / "ts" / "node_modules" / ".bin",
)


def tool_path() -> str:
    dirs = [*map(str, TOOL_DIRS), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    return os.pathsep.join(d for d in dirs if d)


def which(name: str) -> str:
    """The tool's absolute path; a missing tool fails the test (it is an install step)."""
    found = shutil.which(name, path=tool_path())
    if found is None:
        pytest.fail(f"{name} is not installed: run `make setup`")
    return found


def run(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """Runs a tool (with `env`, or ours with the Makefile's PATH) to completion and returns its
    exit status and output."""
    return subprocess.run(
        [which(args[0]), *args[1:]],
        cwd=cwd,
        env=env if env is not None else {**os.environ, "PATH": tool_path()},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A finished process's exit status and output, for assertion messages."""
    return f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
