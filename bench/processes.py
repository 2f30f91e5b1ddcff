"""The processes under test, each started pinned to a core and stopped by its own PID."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

STARTED = time.monotonic()
READY = re.compile(r"ready on (?:\[[^\]]+\]|[\d.]+):(\d+)")


class Process:
    """A child with its output in a log file; `ready` waits for its ready line."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_dir: Path,
        pin_when_ready: str | None = None,
    ) -> None:
        self.name = name
        self._pin = pin_when_ready
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def ready(self, marker: str = "ready on", timeout: float = 120.0) -> str:
        """The ready line, once printed; fails with the log's tail if the process dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            for line in text.splitlines():
                if marker in line:
                    self._pin_once()
                    return line
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}):\n{text[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} printed no ready line in {timeout}s")

    def _pin_once(self) -> None:
        """Every thread of the process onto its cores, once it no longer competes to start."""
        if self._pin is not None:
            subprocess.run(["taskset", "-a", "-p", "-c", self._pin, str(self.pid)],
                           check=True, capture_output=True)  # fmt: skip
            self._pin = None

    def port(self) -> int:
        match = READY.search(self.ready())
        if match is None:
            raise RuntimeError(f"{self.name}: no port in its ready line")
        return int(match.group(1))

    def peak_rss_mb(self) -> float:
        """The kernel's high-water mark of the resident set (VmHWM)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
        return kib / 1024

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


def say(message: str) -> None:
    """Progress on stdout, with the time since the run began."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def pinned(cpu: int | None, *args: str) -> list[str]:
    return ["taskset", "-c", str(cpu), *args] if cpu is not None else list(args)


def usersuite(*args: str) -> list[str]:
    """The installed console script beside this interpreter."""
    return [str(Path(sys.executable).with_name("usersuite")), *args]


def environment(**values: str) -> dict[str, str]:
    """The parent's environment without USERSUITE_* (a developer's own settings), plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("USERSUITE_")}
    env.update(values)
    return env


@contextlib.contextmanager
def running(process: Process):  # type: ignore[no-untyped-def]
    try:
        yield process
    finally:
        process.stop()
