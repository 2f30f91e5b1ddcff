"""Certificate and client-CA rotation without a restart while a client keeps calling (9.9)."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import grpc

from tests.support.certs import CertificateAuthority, Issued
from tests.support.settings import make_settings
from tests.support.waiting import eventually, holds
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import bootstrap
from usersuite.platform.grpc.server import start

PATIENCE_SECONDS = 20.0
CALL_TIMEOUT = 5.0


@asynccontextmanager
async def tls_server(database_url: str, tls: Mapping[str, object]) -> AsyncIterator[int]:
    container = bootstrap(make_settings(database_url, tls=tls))
    running = await start(container, "127.0.0.1:0")
    try:
        yield running.port
    finally:
        await running.stop(0)
        await container.close()


def channel(
    port: int, trust: CertificateAuthority, client: Issued | None = None
) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=trust.cert_pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    # A channel of its own connection: every new channel is a new TLS handshake.
    return grpc.aio.secure_channel(
        f"localhost:{port}", credentials, options=[("grpc.use_local_subchannel_pool", 1)]
    )


async def can_call(port: int, trust: CertificateAuthority, client: Issued | None = None) -> bool:
    async with channel(port, trust, client) as chan:
        try:
            await user_pb2_grpc.UserServiceStub(chan).ListUsers(
                user_pb2.ListUsersRequest(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:  # a handshake failure, nothing else
                raise
            return False
    return True


async def until_callable(port: int, trust: CertificateAuthority, client: Issued | None) -> None:
    await eventually(
        partial(can_call, port, trust, client),
        within=PATIENCE_SECONDS,
        what="a new connection to be accepted",
    )


@dataclass
class SteadyCaller:
    """Calls without pause over one channel that was connected before the rotation."""

    chan: grpc.aio.Channel
    ok: int = 0
    failures: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        stub = user_pb2_grpc.UserServiceStub(self.chan)
        while not stop.is_set():
            try:
                await stub.ListUsers(user_pb2.ListUsersRequest(), timeout=CALL_TIMEOUT)
                self.ok += 1
            except grpc.aio.AioRpcError as exc:
                self.failures.append(f"{exc.code().name}: {exc.details()}")
            await asyncio.sleep(0.01)

    async def keeps_calling(self) -> None:
        """Waits for a few more answers over the same channel."""
        before = self.ok
        await eventually(
            holds(lambda: self.ok > before + 5), within=PATIENCE_SECONDS, what="more answers"
        )


@asynccontextmanager
async def steady_calls(
    port: int, trust: CertificateAuthority, client: Issued | None = None
) -> AsyncIterator[SteadyCaller]:
    async with channel(port, trust, client) as chan:
        caller = SteadyCaller(chan)
        stop = asyncio.Event()
        task = asyncio.create_task(caller.run(stop))
        try:
            await eventually(
                holds(lambda: caller.ok > 0 or bool(caller.failures)),
                within=PATIENCE_SECONDS,
                what="the first answer",
            )
            yield caller
        finally:
            stop.set()
            await task


def write(issued: Issued, cert: Path, key: Path) -> None:
    """Rewrites the files in place, one after the other, as a careless renewal would."""
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)


async def test_a_renewed_server_certificate_is_served_to_new_connections(
    sqlite_url: str, tmp_path: Path
) -> None:
    old_ca, new_ca = CertificateAuthority("old CA"), CertificateAuthority("new CA")
    cert, key = old_ca.issue_server().write(tmp_path, "server")
    async with tls_server(sqlite_url, {"cert_file": cert, "key_file": key}) as port:
        assert not await can_call(port, new_ca)
        async with steady_calls(port, old_ca) as caller:
            write(new_ca.issue_server(), cert, key)
            await until_callable(port, new_ca, None)
            assert not await can_call(port, old_ca), "a new handshake saw the old certificate"
            await caller.keeps_calling()
        assert caller.failures == [], "the established connection was dropped"


async def test_a_rotated_client_ca_applies_to_new_connections(
    sqlite_url: str, tmp_path: Path
) -> None:
    server_ca = CertificateAuthority("server CA")
    old_clients, new_clients = CertificateAuthority("clients 1"), CertificateAuthority("clients 2")
    old_client, new_client = old_clients.issue_client("svc-a"), new_clients.issue_client("svc-a")
    cert, key = server_ca.issue_server().write(tmp_path, "server")
    client_ca = old_clients.write(tmp_path, "clients")
    tls = {"cert_file": cert, "key_file": key, "client_ca_file": client_ca}
    async with tls_server(sqlite_url, tls) as port:
        assert not await can_call(port, server_ca, new_client)
        async with steady_calls(port, server_ca, old_client) as caller:
            client_ca.write_bytes(new_clients.cert_pem)
            await until_callable(port, server_ca, new_client)
            assert not await can_call(port, server_ca, old_client)
            await caller.keeps_calling()
        assert caller.failures == [], "the established connection was dropped"


async def test_a_key_that_does_not_match_keeps_the_current_certificate(
    sqlite_url: str, tmp_path: Path
) -> None:
    ca = CertificateAuthority()
    cert, key = ca.issue_server().write(tmp_path, "server")
    async with tls_server(sqlite_url, {"cert_file": cert, "key_file": key}) as port:
        assert await can_call(port, ca)
        # Only the certificate is renewed; its key has not arrived (yet).
        cert.write_bytes(CertificateAuthority("other").issue_server().cert_pem)
        assert await can_call(port, ca)
        key.write_bytes(b"")
        assert await can_call(port, ca)
