"""A real nats-server with JetStream on a free loopback port, from the pip-installed binary."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.ports import free_port, wait_for_port
from usersuite.platform.nats.embedded import nats_server_binary


class NatsServer:
    """Start, stop (to simulate an outage) and restart on the same port and store."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="usersuite-nats-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, *extra: str, jetstream: bool = True) -> "NatsServer":
        log = (self.root / "server.log").open("ab")
        js = ["-js", "-sd", str(self.root / "store")] if jetstream else []
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), *js, *extra],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
