"""The API probes the chart renders with TLS, performed against a real `usersuite serve`.

The production values turn on mutual TLS. The kubelet's native gRPC probe speaks plaintext only,
so each rendered probe is performed here as the kubelet would, against a server that serves TLS
and mutual TLS, with the rendered container port mapped to the server's local ops port.
"""

import asyncio
import contextlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.chart.manifests import Manifests
from tests.support.certs import CertificateAuthority, Issued
from tests.support.ports import free_port
from tests.support.postgres import lock_waiters, table_locked
from tests.support.processes import UsersuiteProcess, server_env
from tests.support.stubs import AsyncUserStub
from tests.support.waiting import eventually
from user.v1 import user_pb2

pytestmark = pytest.mark.e2e

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server_cert: Path
    server_key: Path
    client: Issued

    def env(self, *, mutual: bool) -> dict[str, str]:
        """The server's TLS settings, as the chart's config.toml sets them."""
        env = {"USERSUITE_TLS__CERT_FILE": str(self.server_cert),
               "USERSUITE_TLS__KEY_FILE": str(self.server_key)}  # fmt: skip
        if mutual:
            env["USERSUITE_TLS__CLIENT_CA_FILE"] = str(self.ca_file)
        return env


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority()
    server_cert, server_key = ca.issue_server().write(directory, "server")
    return Pki(ca.write(directory, "ca"), server_cert, server_key, ca.issue_client("svc-a"))


@pytest.fixture
def production(renderings: dict[str, Manifests]) -> Manifests:
    return renderings["production"]


@dataclass(frozen=True)
class Pod:
    """The API container as rendered, and the process that plays it on loopback."""

    container: dict[str, Any]
    process: UsersuiteProcess
    ports: dict[int, int]  # rendered containerPort -> local port

    def local_port(self, port: int | str) -> int:
        """A probe's port (a number or a container port's name) as the kubelet resolves it."""
        named = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        return self.ports[named[port] if isinstance(port, str) else port]

    def probe(self, name: str) -> int:
        """Performs the rendered HTTP probe; its status (the kubelet passes 200 to 399)."""
        http = self.container[name]["httpGet"]
        assert http.get("scheme", "HTTP") == "HTTP", http
        url = f"http://127.0.0.1:{self.local_port(http['port'])}{http['path']}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code


async def status_is(pod: Pod, probe: str, status: int) -> bool:
    """The rendered probe answers `status` (performed off the event loop: it blocks)."""
    return await asyncio.to_thread(pod.probe, probe) == status


async def waiting_for_lock(database_url: str) -> bool:
    return await lock_waiters(database_url) >= 1


def rendered_port(rendering: Manifests, setting: str) -> int:
    """The port of an address the chart writes into config.toml (`0.0.0.0:PORT`)."""
    return int(rendering.settings()[setting].rsplit(":", 1)[1])


def rendered_workers(container: dict[str, Any]) -> str:
    args: list[str] = container["args"]
    return args[args.index("--workers") + 1]


@contextlib.contextmanager
def serve_as_rendered(
    rendering: Manifests, database_url: str, tls: dict[str, str], workdir: Path
) -> Iterator[Pod]:
    """`usersuite serve` with the rendered worker count, TLS files and ops port, on loopback."""
    container = rendering.api()
    ops = free_port()
    args = ["serve", "--workers", rendered_workers(container), "--listen", "127.0.0.1:0",
            "--metrics-listen", f"127.0.0.1:{ops}"]  # fmt: skip
    env = server_env(database_url, USERSUITE_SHUTDOWN_GRACE_SECONDS="30", **tls)
    process = UsersuiteProcess(args, env, workdir, workdir)
    try:
        process.wait_ready()
        grpc_port = rendered_port(rendering, "listen")
        ports = {grpc_port: process.port, rendered_port(rendering, "metrics_listen"): ops}
        yield Pod(container, process, ports)
    finally:
        process.stop()


def plaintext_grpc_probe(pod: Pod, port: int) -> bool:
    """What the kubelet's native `grpc` probe does: a plaintext Health/Check of service ""."""
    with grpc.insecure_channel(f"127.0.0.1:{pod.local_port(port)}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5
            )
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def test_the_ops_port_the_probes_use_is_the_one_the_server_listens_on(
    production: Manifests,
) -> None:
    api = production.api()
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert rendered_port(production, "metrics_listen") == ports["metrics"]
    assert production.settings()["metrics_listen"].startswith(
        "0.0.0.0:"
    )  # the kubelet dials the pod IP
    for name in PROBES:
        assert set(api[name]) & {"grpc", "httpGet", "exec", "tcpSocket"} == {"httpGet"}, name
        assert api[name]["httpGet"]["port"] == "metrics", name
    # Startup waits for the server to serve; /healthz answers as soon as the listener is up.
    assert api["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mutual-tls"])
async def test_rendered_probes_pass_against_tls_where_the_grpc_probe_fails(
    production: Manifests, pg_url: str, pki: Pki, tmp_path: Path, mutual: bool
) -> None:
    assert production.settings()["tls"].get("client_ca_file") is not None  # mutual in the chart
    with serve_as_rendered(production, pg_url, pki.env(mutual=mutual), tmp_path) as pod:
        for name in PROBES:
            await eventually(partial(status_is, pod, name, 200), what=f"{name} passes")
        # The probe the chart used to render never passes against this server.
        assert not plaintext_grpc_probe(pod, rendered_port(production, "listen"))


def mtls_stub(pod: Pod, pki: Pki) -> tuple[grpc.aio.Channel, AsyncUserStub]:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_file.read_bytes(),
        private_key=pki.client.key_pem,
        certificate_chain=pki.client.cert_pem,
    )
    channel = grpc.aio.secure_channel(pod.process.target, credentials)
    return channel, AsyncUserStub(channel)


async def list_users(stub: AsyncUserStub) -> user_pb2.ListUsersResponse:
    return await stub.ListUsers(user_pb2.ListUsersRequest(), timeout=CALL_TIMEOUT)


async def test_readiness_fails_while_a_stopping_server_drains(
    production: Manifests, pg_url: str, pki: Pki, tmp_path: Path
) -> None:
    with serve_as_rendered(production, pg_url, pki.env(mutual=True), tmp_path) as pod:
        await eventually(lambda: status_is(pod, "readinessProbe", 200), what="ready")
        channel, stub = mtls_stub(pod, pki)
        async with channel:
            async with table_locked(pg_url, "users"):
                held = asyncio.create_task(list_users(stub))
                await eventually(
                    lambda: waiting_for_lock(pg_url), what="ListUsers waits for the users table"
                )
                assert await status_is(pod, "readinessProbe", 200)
                pod.process.terminate()
                # The drain waits for the held call, so the process is still there to answer.
                await eventually(
                    lambda: status_is(pod, "readinessProbe", 503), what="readiness fails"
                )
                assert pod.process.proc.poll() is None
            await held  # the call in flight ends once the lock is released
        assert pod.process.wait() == 0
