"""A 3-node nats-server JetStream cluster on free loopback ports (routes, replicated streams)."""

import time
import urllib.error
import urllib.request

from tests.support.nats import NatsServer
from tests.support.ports import free_port

CLUSTER_NAME = "usersuite-test"


class NatsCluster:
    """Three JetStream servers routed to each other; clients may be given every node's URL."""

    def __init__(self, size: int = 3) -> None:
        self.nodes = [NatsServer() for _ in range(size)]
        self._route_ports = [free_port() for _ in range(size)]
        self._monitor_ports = [free_port() for _ in range(size)]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node, comma-separated, as NATS clients take a server list."""
        return ",".join(self.urls)

    def start(self) -> "NatsCluster":
        for i, node in enumerate(self.nodes):
            routes = ",".join(
                f"nats-route://127.0.0.1:{port}"
                for j, port in enumerate(self._route_ports)
                if j != i
            )
            node.start(
                "--server_name", f"n{i + 1}", "--cluster_name", CLUSTER_NAME,
                "--cluster", f"nats://127.0.0.1:{self._route_ports[i]}", "--routes", routes,
                "-m", str(self._monitor_ports[i]),
            )  # fmt: skip
        for port in self._monitor_ports:
            wait_for_jetstream(port)
        return self

    def kill(self, index: int) -> None:
        """SIGKILL: the node vanishes without saying goodbye to its routes or clients."""
        process = self.nodes[index].process
        assert process is not None
        process.kill()
        process.wait(10)

    def remove(self) -> None:
        for node in self.nodes:
            node.remove()


def wait_for_jetstream(monitor_port: int, timeout: float = 60.0) -> None:
    """Until the node's /healthz is OK, which in a cluster means it knows the JetStream meta
    leader: before that a client's stream request times out (slowly, on a loaded machine)."""
    url = f"http://127.0.0.1:{monitor_port}/healthz"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"JetStream on monitor port {monitor_port} not ready in {timeout}s")
        time.sleep(0.1)
