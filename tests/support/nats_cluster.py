"""A 3-node nats-server JetStream cluster on free loopback ports (routes, replicated streams)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.postgres import free_port, wait_for_port
from usersuite.adapters.nats.embedded import nats_server_binary

CLUSTER_NAME = "usersuite-test"


class ClusterNode:
    """One server of the cluster: its client port, route port and store survive a restart."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.port = free_port()
        self.route_port = free_port()
        self.root = root / name
        self.root.mkdir(parents=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def write_config(self, routes: list[int]) -> None:
        route_urls = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in routes)
        (self.root / "server.conf").write_text(
            f'server_name: "{self.name}"\n'
            f"listen: 127.0.0.1:{self.port}\n"
            f'jetstream {{ store_dir: "{self.root / "store"}" }}\n'
            f'cluster {{ name: "{CLUSTER_NAME}", listen: 127.0.0.1:{self.route_port}, '
            f"routes: [{route_urls}] }}\n"
        )

    def start(self) -> None:
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.root / "server.conf")],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.port)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the node vanishes without saying goodbye to its routes or clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


class NatsCluster:
    """Three JetStream servers routed to each other; clients may be given every node's URL."""

    def __init__(self, size: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="usersuite-nats-cluster-"))
        self.nodes = [ClusterNode(f"n{i + 1}", self.root) for i in range(size)]
        for node in self.nodes:
            node.write_config([other.route_port for other in self.nodes if other is not node])

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node, comma-separated, as NATS clients take a server list."""
        return ",".join(self.urls)

    def start(self) -> "NatsCluster":
        for node in self.nodes:
            node.start()
        return self

    def remove(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)
