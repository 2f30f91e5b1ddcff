"""A throwaway PostgreSQL cluster on a free loopback port, for tests (initdb + pg_ctl)."""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path:
    """The newest installed server's bin directory (Debian keeps initdb off the PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found: run `make setup` (or .ci/run)")


class PostgresCluster:
    """initdb, start, stop and remove a cluster; runs as `postgres` when we are root."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="usersuite-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = "usersuite"
        self.password = "test-only-password"

    def _as_owner(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return list(args)

    def start(self) -> "PostgresCluster":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            self._as_owner(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", self.user,
                "--pwfile", str(pwfile), "-A", "scram-sha-256", "-E", "UTF8", "--no-sync",
            ),
            check=True, capture_output=True,
        )  # fmt: skip
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        args = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w"]
        if action == "start":
            args += ["-o", options, "start"]
        else:
            args += ["-m", "fast", action]
        subprocess.run(self._as_owner(*args), check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        self._pg_ctl("stop")

    def restart(self) -> None:
        self.stop()
        self._pg_ctl("start")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(driver="postgresql"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
