"""No call escapes authentication, and failing it is rate limited (issue 9, points 2 and 3)."""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import grpc
import jwt
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

from tests.support.handlers import RawGenericHandler
from tests.support.settings import make_settings
from tests.support.status import Details, details_of
from tests.support.tokens import AUDIENCE, HS_SECRET, ISSUER, JwksServer, claims, jwk_of, rsa_key
from usersuite.bootstrap import bootstrap
from usersuite.platform.grpc.auth.scopes import SERVER_METHOD_SCOPES
from usersuite.platform.grpc.server import create_server
from usersuite.users.api.binding import USER_METHOD_SCOPES

Code = grpc.StatusCode
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
# A streaming service the scope map has never heard of, as a later RPC would be.
PROBE_STREAM = "/usersuite.test.Probe/Echo"
PROBE_SERVER_STREAM = "/usersuite.test.Probe/Repeat"
# The served service's scopes and the server's own (reflection).
METHOD_SCOPES = {**USER_METHOD_SCOPES, **SERVER_METHOD_SCOPES}
ALL_SCOPES = " ".join(sorted(set(METHOD_SCOPES.values())))


class Kind(TypedDict):
    """The streaming shape of a method, as `call` takes it."""

    client_streaming: bool
    server_streaming: bool


def bearer(**overrides: Any) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {jwt.encode(claims(**overrides), HS_SECRET, 'HS256')}"),)


def probe_handlers() -> RawGenericHandler:
    async def echo(requests: Any, context: Any) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    async def repeat(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for _ in range(3):
            yield request

    return grpc.method_handlers_generic_handler(
        "usersuite.test.Probe",
        {
            "Echo": grpc.stream_stream_rpc_method_handler(echo),
            "Repeat": grpc.unary_stream_rpc_method_handler(repeat),
        },
    )


@asynccontextmanager
async def serving(
    url: str, limits: dict[str, Any] | None = None, **auth: Any
) -> AsyncIterator[str]:
    """The API with auth on, plus the probe service; yields its address."""
    settings = make_settings(
        url,
        auth={"enabled": True, "issuer": ISSUER, "audience": AUDIENCE, **auth},
        limits=limits or {},
    )
    container = bootstrap(settings)
    running = create_server(container, "127.0.0.1:0")
    running.server.add_generic_rpc_handlers((probe_handlers(),))
    await running.monitor.start()
    await running.server.start()
    try:
        yield f"127.0.0.1:{running.port}"
    finally:
        await running.stop(0)
        await container.close()


async def call(
    channel: grpc.aio.Channel,
    method: str,
    *,
    client_streaming: bool,
    server_streaming: bool,
    metadata: Any = None,
    body: bytes = b"",
) -> Details | None:
    """Calls any method kind with raw bytes; None when it succeeds, else the error's details."""
    identity: Any = lambda raw: raw  # noqa: E731 - bytes in, bytes out
    kinds: dict[tuple[bool, bool], Callable[..., Any]] = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }
    kind = kinds[(client_streaming, server_streaming)]
    multicallable = kind(method, request_serializer=identity, response_deserializer=identity)
    # A refused client stream sends no message unless the test names one: grpc.aio's client
    # reports INTERNAL ("Internal error from Core") instead of the server's status when a write
    # fails because the server already ended the call (grpc/grpc#36066), so a write racing the
    # server's refusal would hide the status under test. Closing the empty stream is safe.
    request: Any = (iter([body] if body else [])) if client_streaming else body
    try:
        result = multicallable(request, metadata=metadata, timeout=10)
        if server_streaming:
            async for _ in result:
                pass
        else:
            await result
    except grpc.aio.AioRpcError as exc:
        return details_of(exc)
    return None


async def registered_methods(channel: grpc.aio.Channel) -> Iterator[tuple[str, bool, bool]]:
    """Every method of every service the server lists, found through reflection (with a token)."""
    info = channel.stream_stream(
        REFLECTION,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    requests = [reflection_pb2.ServerReflectionRequest(list_services="")]
    listed = [r async for r in info(iter(requests), metadata=bearer(scope=ALL_SCOPES))]
    services = [s.name for s in listed[0].list_services_response.service]
    found = []
    for service in services:
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=service)
        (response,) = [r async for r in info(iter([request]), metadata=bearer(scope=ALL_SCOPES))]
        for raw in response.file_descriptor_response.file_descriptor_proto:
            file = descriptor_pb2.FileDescriptorProto.FromString(raw)
            for described in file.service:
                if f"{file.package}.{described.name}" != service:
                    continue
                for m in described.method:
                    found.append((f"/{service}/{m.name}", m.client_streaming, m.server_streaming))
    return iter(sorted(set(found)))


async def test_every_registered_method_needs_credentials_and_a_listed_scope(
    sqlite_url: str,
) -> None:
    async with (
        serving(sqlite_url, hs256_secret=HS_SECRET, reflection="authenticated") as target,
        grpc.aio.insecure_channel(target) as channel,
    ):
        methods = list(await registered_methods(channel))
        assert len(methods) >= 8, methods  # UserService, Health, reflection v1 and v1alpha
        for method, client_streaming, server_streaming in methods:
            kind = Kind(client_streaming=client_streaming, server_streaming=server_streaming)
            if method.startswith(HEALTH_PREFIX):
                continue  # probes are exempt by design
            assert method in METHOD_SCOPES, f"{method} has no scope: it is denied to everyone"
            details = await call(channel, method, **kind)
            assert details is not None, f"{method} answered without credentials"
            assert (details.code, details.reason) == (Code.UNAUTHENTICATED, "UNAUTHENTICATED")
            details = await call(channel, method, metadata=bearer(scope="unrelated"), **kind)
            assert details is not None, f"{method} answered a token without its scope"
            assert details.code == Code.PERMISSION_DENIED, method


@pytest.mark.parametrize("server_streaming", [False, True])
async def test_a_streaming_method_missing_from_the_scope_map_is_denied(
    sqlite_url: str, server_streaming: bool
) -> None:
    method = PROBE_SERVER_STREAM if server_streaming else PROBE_STREAM
    kind: Kind = {"client_streaming": not server_streaming, "server_streaming": True}
    async with (
        serving(sqlite_url, hs256_secret=HS_SECRET, exempt_methods=[]) as target,
        grpc.aio.insecure_channel(target) as channel,
    ):
        details = await call(channel, method, **kind)
        assert details is not None
        assert details.code == Code.UNAUTHENTICATED
        details = await call(channel, method, metadata=bearer(scope=ALL_SCOPES), **kind)
        assert details is not None
        assert details.code == Code.PERMISSION_DENIED
        assert details.metadata == {"required_scope": "usersuite.unlisted-method"}


async def test_reflection_is_public_only_when_chosen(sqlite_url: str) -> None:
    listing: Kind = {"client_streaming": True, "server_streaming": True}
    body = reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString()
    async with (
        serving(sqlite_url, hs256_secret=HS_SECRET, reflection="public") as target,
        grpc.aio.insecure_channel(target) as channel,
    ):
        assert await call(channel, REFLECTION, body=body, **listing) is None
    async with (
        serving(sqlite_url, hs256_secret=HS_SECRET, reflection="authenticated") as target,
        grpc.aio.insecure_channel(target) as channel,
    ):
        details = await call(channel, REFLECTION, body=body, **listing)
        assert details is not None
        assert details.code == Code.UNAUTHENTICATED
        reader = bearer(scope="users.read")
        assert await call(channel, REFLECTION, body=body, metadata=reader, **listing) is None


async def test_failing_credentials_are_refused_before_verification(sqlite_url: str) -> None:
    key = rsa_key()
    jwks = JwksServer()
    jwks.keys = [jwk_of(key, "k1")]
    unary: Kind = {"client_streaming": False, "server_streaming": False}
    list_users = "/user.v1.UserService/ListUsers"

    def signed(kid: str, subject: str = "alice") -> tuple[tuple[str, str], ...]:
        token = jwt.encode(claims(sub=subject), key, algorithm="RS256", headers={"kid": kid})
        return (("authorization", f"Bearer {token}"),)

    limits = {
        "auth_failure_burst": 2,
        "auth_failure_rate_per_second": 0.01,
        "auth_failure_global_burst": 3,
        "auth_failure_global_rate_per_second": 0.01,
    }
    try:
        async with (
            serving(sqlite_url, limits, jwks_url=jwks.url, jwks_min_refresh_seconds=0) as target,
            grpc.aio.insecure_channel(target) as channel,
        ):
            good = signed("k1")
            for _ in range(10):  # good calls never spend the budget
                assert await call(channel, list_users, metadata=good, **unary) is None
            for attempt in range(3):  # each unknown kid costs a JWKS fetch
                details = await call(channel, list_users, metadata=signed(f"x{attempt}"), **unary)
                assert details is not None
                assert details.code == Code.UNAUTHENTICATED
            fetches = jwks.requests
            # The server's budget is spent: a token that needs verifying waits, even a good one.
            for metadata in (signed("x9"), signed("k1", subject="bob")):
                details = await call(channel, list_users, metadata=metadata, **unary)
                assert details is not None
                assert (details.code, details.reason) == (
                    Code.RESOURCE_EXHAUSTED,
                    "RATE_LIMITED",
                )
                assert details.metadata == {"limit": "failed authentication (server)"}
                assert details.retry_delay_seconds is not None
                assert details.retry_delay_seconds > 0
            assert jwks.requests == fetches, "a refused token still made the server fetch keys"
            # A token verified before, and a call that needs no verification, are still decided.
            assert await call(channel, list_users, metadata=good, **unary) is None
            details = await call(channel, list_users, **unary)
            assert details is not None
            assert details.code == Code.UNAUTHENTICATED
            health: Kind = {"client_streaming": False, "server_streaming": False}
            assert await call(channel, "/grpc.health.v1.Health/Check", **health) is None
    finally:
        jwks.close()
