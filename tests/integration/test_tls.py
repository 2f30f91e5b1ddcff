"""TLS and mutual TLS through real channels: who may connect, and what a certificate may do."""

from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from tests.support.certs import CertificateAuthority, Issued
from tests.support.serving import serving
from tests.support.status import failure
from tests.support.stubs import AsyncUserStub
from user.v1 import events_pb2, user_pb2
from usersuite.bootstrap import UsersContainer
from usersuite.platform.config import TlsSettings
from usersuite.platform.db.tables import outbox
from usersuite.platform.grpc.tls import server_credentials
from usersuite.users.service import commands

Code = grpc.StatusCode
Stub = AsyncUserStub
HS256_SECRET = "tls-test-hs256-secret-0123456789abcdef"
SPIFFE_ID = "spiffe://usersuite.test/svc-a"
CALL_TIMEOUT = 10.0


@dataclass(frozen=True)
class Pki:
    """One CA for the server and its clients, and a foreign CA nobody here trusts."""

    ca: CertificateAuthority
    ca_file: Path
    server_cert: Path
    server_key: Path
    client: Issued  # CN svc-a with the SAN URI SPIFFE_ID
    cn_only_client: Issued  # CN svc-cn, no SAN
    foreign_ca: CertificateAuthority
    foreign_client: Issued  # same names as `client`, issued by the foreign CA

    def tls(self, *, mutual: bool) -> dict[str, object]:
        settings: dict[str, object] = {"cert_file": self.server_cert, "key_file": self.server_key}
        if mutual:
            settings["client_ca_file"] = self.ca_file
        return settings


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, foreign_ca = CertificateAuthority("usersuite test CA"), CertificateAuthority("foreign CA")
    server_cert, server_key = ca.issue_server().write(directory, "server")
    return Pki(
        ca=ca,
        ca_file=ca.write(directory, "ca"),
        server_cert=server_cert,
        server_key=server_key,
        client=ca.issue_client("svc-a", uris=(SPIFFE_ID,)),
        cn_only_client=ca.issue_client("svc-cn"),
        foreign_ca=foreign_ca,
        foreign_client=foreign_ca.issue_client("svc-a", uris=(SPIFFE_ID,)),
    )


def tls_channel(port: int, trust: bytes, client: Issued | None = None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=trust,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    # 127.0.0.1, not localhost: the server certificate's IP SAN is what gets verified.
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials)


async def list_users(channel: grpc.aio.Channel) -> user_pb2.ListUsersResponse:
    return await Stub(channel).ListUsers(user_pb2.ListUsersRequest(), timeout=CALL_TIMEOUT)


def create_request(email: str) -> user_pb2.CreateUserRequest:
    return user_pb2.CreateUserRequest(user=user_pb2.User(display_name="Ada", email=email))


async def recorded_principals(container: UsersContainer) -> list[str]:
    async with container.engine.connect() as conn:
        payloads = await conn.scalars(select(outbox.c.payload).order_by(outbox.c.seq))
        return [events_pb2.UserCreated.FromString(p).metadata.principal for p in payloads]


# Transport: auth is off, so any failure below is the TLS handshake's and not a missing token.


async def test_plaintext_client_cannot_call_a_tls_server(sqlite_url: str, pki: Pki) -> None:
    async with (
        serving(sqlite_url, tls=pki.tls(mutual=False)) as served,
        grpc.aio.insecure_channel(served.target) as channel,
    ):
        details = await failure(list_users(channel))

    assert details.code == Code.UNAVAILABLE


async def test_tls_client_that_trusts_the_ca_can_call(sqlite_url: str, pki: Pki) -> None:
    async with (
        serving(sqlite_url, tls=pki.tls(mutual=False)) as served,
        tls_channel(served.port, pki.ca.cert_pem) as channel,
    ):
        created = await Stub(channel).CreateUser(
            create_request("ada@example.com"), timeout=CALL_TIMEOUT
        )
        listed = await list_users(channel)

    assert list(listed.users) == [created]


async def test_tls_client_that_does_not_trust_the_server_fails(sqlite_url: str, pki: Pki) -> None:
    async with (
        serving(sqlite_url, tls=pki.tls(mutual=False)) as served,
        tls_channel(served.port, pki.foreign_ca.cert_pem) as channel,
    ):
        details = await failure(list_users(channel))

    assert details.code == Code.UNAVAILABLE


@pytest.mark.parametrize("client", ["no certificate", "certificate from another CA"])
async def test_mtls_refuses_clients_without_a_trusted_certificate(
    sqlite_url: str, pki: Pki, client: str
) -> None:
    certificate = None if client == "no certificate" else pki.foreign_client
    async with (
        serving(sqlite_url, tls=pki.tls(mutual=True)) as served,
        tls_channel(served.port, pki.ca.cert_pem, certificate) as channel,
    ):
        details = await failure(list_users(channel))

    assert details.code == Code.UNAVAILABLE


async def test_mtls_accepts_a_client_certificate_from_the_client_ca(
    sqlite_url: str, pki: Pki
) -> None:
    async with (
        serving(sqlite_url, tls=pki.tls(mutual=True)) as served,
        tls_channel(served.port, pki.ca.cert_pem, pki.client) as channel,
    ):
        listed = await list_users(channel)

    assert list(listed.users) == []


# Authorization by certificate: auth is on, and the clients below send no token.


async def test_certificate_with_mtls_scopes_reads_but_cannot_write(
    sqlite_url: str, pki: Pki
) -> None:
    auth = {"enabled": True, "hs256_secret": HS256_SECRET, "mtls_scopes": ["users.read"]}
    async with serving(sqlite_url, tls=pki.tls(mutual=True), auth=auth) as served:
        seeded = await served.container.handlers.create_user(
            commands.CreateUser(display_name="Ada", email="ada@example.com")
        )
        async with tls_channel(served.port, pki.ca.cert_pem, pki.client) as channel:
            stub = Stub(channel)
            got = await stub.GetUser(
                user_pb2.GetUserRequest(name=f"users/{seeded.id}"), timeout=CALL_TIMEOUT
            )
            listed = await list_users(channel)
            denied = await failure(
                stub.CreateUser(create_request("grace@example.com"), timeout=CALL_TIMEOUT)
            )

    assert got.name == f"users/{seeded.id}"
    assert [user.name for user in listed.users] == [got.name]
    assert denied.code == Code.PERMISSION_DENIED
    assert denied.reason == "PERMISSION_DENIED"
    assert denied.metadata == {"required_scope": "users.write"}


@pytest.mark.parametrize(
    ("client", "identity"), [("client", SPIFFE_ID), ("cn_only_client", "svc-cn")]
)
async def test_certificate_identity_is_the_principal(
    sqlite_url: str, pki: Pki, client: str, identity: str
) -> None:
    # The SAN when the certificate has one, else its CN; written events record the principal.
    auth = {
        "enabled": True,
        "hs256_secret": HS256_SECRET,
        "mtls_scopes": ["users.read", "users.write"],
    }
    async with serving(sqlite_url, tls=pki.tls(mutual=True), auth=auth) as served:
        async with tls_channel(served.port, pki.ca.cert_pem, getattr(pki, client)) as channel:
            await Stub(channel).CreateUser(create_request("ada@example.com"), timeout=CALL_TIMEOUT)
        principals = await recorded_principals(served.container)

    assert principals == [identity]


async def test_certificate_without_mtls_scopes_still_needs_a_token(
    sqlite_url: str, pki: Pki
) -> None:
    auth = {"enabled": True, "hs256_secret": HS256_SECRET, "mtls_scopes": []}
    async with (
        serving(sqlite_url, tls=pki.tls(mutual=True), auth=auth) as served,
        tls_channel(served.port, pki.ca.cert_pem, pki.client) as channel,
    ):
        read = await failure(list_users(channel))
        write = await failure(
            Stub(channel).CreateUser(create_request("ada@example.com"), timeout=CALL_TIMEOUT)
        )

    for details in (read, write):
        assert details.code == Code.UNAUTHENTICATED
        assert details.reason == "UNAUTHENTICATED"


def test_unreadable_certificate_file_is_a_clear_error(tmp_path: Path, pki: Pki) -> None:
    missing = tmp_path / "missing.crt"
    tls = TlsSettings(cert_file=pki.server_cert, key_file=pki.server_key, client_ca_file=missing)

    with pytest.raises(ValueError, match=r"tls\.client_ca_file .*missing\.crt cannot be read"):
        server_credentials(tls)
