"""Authentication and authorization through a real channel: every rejection is a test."""

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.serving import served_channel
from tests.support.status import details_of
from tests.support.tokens import AUDIENCE, HS_SECRET, ISSUER, JwksServer, claims, jwk_of, rsa_key
from tests.support.waiting import eventually
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.platform.grpc.auth.jwt import mint_token


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"rsa": rsa_key(), "rsa2": rsa_key(), "ec": ec.generate_private_key(ec.SECP256R1())}


@pytest.fixture
def jwks_file(tmp_path: Path, keys: dict[str, Any]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(
        json.dumps({"keys": [jwk_of(keys["rsa"], "rsa-1"), jwk_of(keys["ec"], "ec-1")]})
    )
    return path


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def serve_with_auth(
    url: str, limits: dict[str, Any] | None = None, **auth: Any
) -> AbstractAsyncContextManager[grpc.aio.Channel]:
    return served_channel(
        url,
        auth={"enabled": True, "issuer": ISSUER, "audience": AUDIENCE, **auth},
        limits=limits or {},
    )


@pytest.fixture
async def channel(sqlite_url: str, jwks_file: Path) -> AsyncIterator[grpc.aio.Channel]:
    async with serve_with_auth(
        sqlite_url, hs256_secret=HS_SECRET, jwks_file=str(jwks_file)
    ) as chan:
        yield chan


async def get_user(channel: grpc.aio.Channel, token: str | None) -> Any:
    """Calls GetUser with the given bearer token; returns the error details (or None)."""
    stub = user_pb2_grpc.UserServiceStub(channel)
    metadata = None if token is None else (("authorization", f"Bearer {token}"),)
    try:
        await stub.ListUsers(user_pb2.ListUsersRequest(), metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        return details_of(exc)
    return None


async def test_valid_hs256_rs256_and_es256_tokens_are_accepted(
    channel: grpc.aio.Channel, keys: dict[str, Any]
) -> None:
    assert await get_user(channel, jwt.encode(claims(), HS_SECRET, algorithm="HS256")) is None
    rs = jwt.encode(claims(), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    assert await get_user(channel, rs) is None
    es = jwt.encode(claims(), keys["ec"], algorithm="ES256", headers={"kid": "ec-1"})
    assert await get_user(channel, es) is None


def _unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, "", algorithm="none")


def _confused(keys: dict[str, Any]) -> str:
    """HS256 signed with the RSA *public* key, hoping the server verifies HMAC with it."""
    public_pem = (
        keys["rsa"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = b64(json.dumps(claims()).encode())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("missing", "missing credentials"),
        ("malformed", "malformed token"),
        ("not-bearer", "Bearer"),
        ("bad-signature", "signature is invalid"),
        ("alg-none", "algorithm 'none' is not accepted"),
        ("alg-confusion", "signature is invalid"),
        ("expired", "expired"),
        ("not-yet-valid", "not yet valid"),
        ("wrong-issuer", "wrong issuer"),
        ("wrong-audience", "wrong audience"),
        ("unknown-kid", "unknown key id"),
        ("no-exp", "'exp'"),
        ("no-sub", "'sub'"),
        ("empty-sub", "empty 'sub'"),
        ("blank-sub", "empty 'sub'"),
    ],
)
async def test_rejected_credentials_are_unauthenticated(
    channel: grpc.aio.Channel, keys: dict[str, Any], case: str, why: str
) -> None:
    now = int(time.time())

    def hs(**overrides: Any) -> str:
        return jwt.encode(claims(**overrides), HS_SECRET, algorithm="HS256")

    tokens: dict[str, str | None] = {
        "missing": None,
        "malformed": "not.a.jwt",
        "bad-signature": jwt.encode(claims(), "another-secret-of-enough-length!!", "HS256"),
        "alg-none": _unsigned(claims()),
        "alg-confusion": _confused(keys),
        "expired": hs(exp=now - 120, iat=now - 600, nbf=now - 600),
        "not-yet-valid": hs(nbf=now + 600, exp=now + 900),
        "wrong-issuer": hs(iss="someone-else"),
        "wrong-audience": hs(aud="another-api"),
        "unknown-kid": jwt.encode(claims(), keys["rsa2"], "RS256", headers={"kid": "nope"}),
        "no-exp": hs(exp=None),
        "no-sub": hs(sub=None),
        "empty-sub": hs(sub=""),
        "blank-sub": hs(sub="  "),
    }  # fmt: skip
    if case == "not-bearer":
        stub = user_pb2_grpc.UserServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListUsers(
                user_pb2.ListUsersRequest(), metadata=(("authorization", "Basic x"),)
            )
        details = details_of(caught.value)
    else:
        details = await get_user(channel, tokens[case])
    assert details is not None, f"{case} was accepted"
    assert details.code == grpc.StatusCode.UNAUTHENTICATED
    assert details.reason == "UNAUTHENTICATED"
    assert details.domain == "usersuite.user.v1"
    assert why in details.message


@pytest.mark.parametrize("subject", ["s" * 256, "nul\x00byte"])
async def test_a_verified_token_whose_subject_cannot_be_stored_is_refused_every_time(
    channel: grpc.aio.Channel, subject: str
) -> None:
    token = jwt.encode(claims(sub=subject), HS_SECRET, algorithm="HS256")
    for _ in range(3):  # the later calls find the token verified and cached
        details = await get_user(channel, token)
        assert details is not None
        assert details.code == grpc.StatusCode.UNAUTHENTICATED
        assert "identity (sub)" in details.message


async def test_confused_token_is_rejected_even_without_an_hs256_secret(
    sqlite_url: str, jwks_file: Path, keys: dict[str, Any]
) -> None:
    async with serve_with_auth(sqlite_url, jwks_file=str(jwks_file)) as channel:
        details = await get_user(channel, _confused(keys))
        assert details is not None
        assert details.code == grpc.StatusCode.UNAUTHENTICATED
        assert "'HS256' is not accepted" in details.message


async def test_scopes_authorize_each_method(channel: grpc.aio.Channel) -> None:
    stub = user_pb2_grpc.UserServiceStub(channel)
    reader = jwt.encode(claims(scope="users.read"), HS_SECRET, algorithm="HS256")
    metadata = (("authorization", f"Bearer {reader}"),)
    await stub.ListUsers(user_pb2.ListUsersRequest(), metadata=metadata)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateUser(
            user_pb2.CreateUserRequest(user=user_pb2.User(display_name="A", email="a@example.com")),
            metadata=metadata,
        )
    details = details_of(caught.value)
    assert (details.code, details.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "PERMISSION_DENIED",
    )
    assert details.metadata == {"required_scope": "users.write"}


async def test_principal_is_recorded_in_the_event(
    channel: grpc.aio.Channel, sqlite_url: str
) -> None:
    from sqlalchemy import create_engine, select

    from user.v1 import events_pb2
    from usersuite.platform.db.engine import sync_url
    from usersuite.platform.db.tables import outbox

    token = mint_token(HS_SECRET.encode(), subject="carol", scopes=["users.write"],
                       issuer=ISSUER, audience=AUDIENCE)  # fmt: skip
    stub = user_pb2_grpc.UserServiceStub(channel)
    await stub.CreateUser(
        user_pb2.CreateUserRequest(user=user_pb2.User(display_name="C", email="c@example.com")),
        metadata=(("authorization", f"Bearer {token}"),),
    )
    engine = create_engine(sync_url(sqlite_url))
    with engine.connect() as conn:
        row = conn.execute(select(outbox.c.principal, outbox.c.payload)).one()
    engine.dispose()
    assert row.principal == "carol"
    assert events_pb2.UserCreated.FromString(row.payload).metadata.principal == "carol"


async def test_health_and_reflection_need_no_token(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert response.status in (health_pb2.HealthCheckResponse.SERVING,
                               health_pb2.HealthCheckResponse.NOT_SERVING)  # fmt: skip
    # Reflection, as grpcurl uses it, answers a call that carries no token at all.
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [answer] = [reply async for reply in reflection.ServerReflectionInfo(iter([request]))]
    assert answer.WhichOneof("message_response") == "list_services_response"
    services = {service.name for service in answer.list_services_response.service}
    assert "user.v1.UserService" in services


async def test_jwks_url_rotation_by_kid_with_rate_limited_refresh(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> None:
    jwks_server.keys = [jwk_of(keys["rsa"], "k1")]
    # Waiting for k2 and the flood below fail authentication on purpose; the failed-auth budget
    # (test_auth_coverage.py) is raised so that only the JWKS refresh limit is at work here.
    async with serve_with_auth(
        sqlite_url,
        limits={"auth_failure_burst": 1000},
        jwks_url=jwks_server.url,
        jwks_min_refresh_seconds=0.5,
    ) as channel:
        old = jwt.encode(claims(), keys["rsa"], algorithm="RS256", headers={"kid": "k1"})
        assert await get_user(channel, old) is None
        # The issuer rotates: a new key k2 is published; a token with k2 makes the server refresh.
        jwks_server.keys = [jwk_of(keys["rsa"], "k1"), jwk_of(keys["rsa2"], "k2")]
        new = jwt.encode(claims(), keys["rsa2"], algorithm="RS256", headers={"kid": "k2"})

        async def new_key_accepted() -> bool:
            # Refreshes are rate limited, so the first tries may come before one is allowed.
            return await get_user(channel, new) is None

        await eventually(new_key_accepted, within=10, what="the server to fetch key k2")
        assert await get_user(channel, new) is None
        fetches, started = jwks_server.requests, time.monotonic()
        # A flood of unknown kids refreshes at most once per min_refresh interval (0.5 s).
        for i in range(20):
            bogus = jwt.encode(claims(), keys["rsa2"], algorithm="RS256", headers={"kid": f"x{i}"})
            details = await get_user(channel, bogus)
            assert details is not None
            assert details.code == grpc.StatusCode.UNAUTHENTICATED
        intervals = (time.monotonic() - started) / 0.5
        assert jwks_server.requests - fetches <= 1 + intervals
