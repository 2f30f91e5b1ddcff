"""JWKS refresh off the request path, against a real JWKS server that is made slow, down or big."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest

from tests.support.certs import CertificateAuthority
from tests.support.settings import make_settings
from tests.support.status import details_of
from tests.support.stubs import AsyncUserStub
from tests.support.tokens import AUDIENCE, ISSUER, JwksServer, claims, jwk_of, rsa_key
from tests.support.waiting import eventually, holds
from user.v1 import user_pb2
from usersuite.bootstrap import UsersContainer, bootstrap
from usersuite.platform.grpc.server import ApiServer, start

# Bounds for waiting on a background refresh; a test that needs them fails, never passes, late.
PATIENCE_SECONDS = 20.0


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"k1": rsa_key(), "k2": rsa_key()}


@pytest.fixture
def jwks_server(keys: dict[str, Any]) -> Iterator[JwksServer]:
    server = JwksServer()
    server.keys = [jwk_of(keys["k1"], "k1")]
    yield server
    server.close()


@dataclass
class Api:
    container: UsersContainer
    server: ApiServer
    stub: AsyncUserStub

    def sample(self, name: str) -> float:
        return self.container.registry.get_sample_value(name) or 0.0


async def serve(url: str, **auth: Any) -> AsyncIterator[Api]:
    settings = make_settings(
        url, auth={"enabled": True, "issuer": ISSUER, "audience": AUDIENCE, **auth}
    )
    container = bootstrap(settings)
    server = await start(container, "127.0.0.1:0")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield Api(container, server, AsyncUserStub(channel))
    await server.stop(0)
    await container.close()


def token(keys: dict[str, Any], kid: str, signer: str = "k1") -> str:
    return jwt.encode(claims(), keys[signer], algorithm="RS256", headers={"kid": kid})


async def call(api: Api, bearer: str, deadline: float | None = None) -> Any:
    """ListUsers with the token: None when it succeeds, else the error's details."""
    try:
        await api.stub.ListUsers(
            user_pb2.ListUsersRequest(),
            metadata=(("authorization", f"Bearer {bearer}"),),
            timeout=deadline,
        )
    except grpc.aio.AioRpcError as exc:
        return details_of(exc)
    return None


async def until_requests(server: JwksServer, count: int) -> None:
    await eventually(
        holds(lambda: server.requests >= count),
        within=PATIENCE_SECONDS,
        what=f"{count} requests to the JWKS server",
    )


async def loaded_then_held(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> AsyncIterator[Api]:
    """A server that has loaded k1 and may refresh at any time, from a JWKS server on hold."""
    async for api in serve(sqlite_url, jwks_url=jwks_server.url, jwks_min_refresh_seconds=0):
        assert await call(api, token(keys, "k1")) is None
        jwks_server.hold()
        yield api


async def test_a_known_kid_never_waits_behind_a_slow_fetch_for_an_unknown_one(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> None:
    async for api in loaded_then_held(sqlite_url, jwks_server, keys):
        unknown = asyncio.create_task(call(api, token(keys, "nope")))
        await until_requests(jwks_server, 2)
        known = asyncio.create_task(call(api, token(keys, "k1")))
        done, _ = await asyncio.wait({known, unknown}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {known}, "the known kid waited for the fetch"
        assert known.result() is None
        jwks_server.release()
        details = await unknown
        assert (details.code, details.reason) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "UNAUTHENTICATED",
        )


async def test_callers_that_give_up_leave_one_fetch_in_flight(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> None:
    async for api in loaded_then_held(sqlite_url, jwks_server, keys):
        for attempt in range(5):
            details = await call(api, token(keys, f"unknown-{attempt}"), deadline=0.3)
            assert details.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # The first caller's fetch has reached the held server before the count is read.
        await until_requests(jwks_server, 2)
        assert jwks_server.requests == 2, "a cancelled caller started another fetch"
        jwks_server.release()


async def test_unknown_kids_refresh_at_most_once_per_min_refresh(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> None:
    async for api in serve(sqlite_url, jwks_url=jwks_server.url, jwks_min_refresh_seconds=3600):
        assert await call(api, token(keys, "k1")) is None
        for attempt in range(20):
            details = await call(api, token(keys, f"x{attempt}"))
            assert details.code == grpc.StatusCode.UNAUTHENTICATED
        assert jwks_server.requests == 1


async def test_stale_keys_are_refused_with_unavailable_then_recover(
    sqlite_url: str,
    jwks_server: JwksServer,
    keys: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="usersuite.platform.grpc.auth.jwks")
    async for api in serve(
        sqlite_url,
        jwks_url=jwks_server.url,
        jwks_cache_seconds=0.2,
        jwks_min_refresh_seconds=0.1,
        jwks_max_stale_seconds=1.0,
    ):
        assert await call(api, token(keys, "k1")) is None
        jwks_server.down = True
        # The cached key keeps working for a while, then the calls are refused.
        await eventually(
            partial(_refused, api, keys, grpc.StatusCode.UNAVAILABLE),
            within=PATIENCE_SECONDS,
            what="stale keys refused",
        )
        details = await call(api, token(keys, "k1"))
        assert details.reason == "SERVICE_UNAVAILABLE"
        assert details.retry_delay_seconds is not None
        assert "out of date" in details.message
        assert api.sample("usersuite_jwks_stale_rejections_total") >= 1
        assert api.sample("usersuite_jwks_fetch_failures_total") >= 1
        assert any("jwks_max_stale_seconds" in r.getMessage() for r in caplog.records)
        # The provider comes back having revoked k1: k2 works and k1 is unknown.
        jwks_server.keys = [jwk_of(keys["k2"], "k2")]
        jwks_server.down = False
        await eventually(
            partial(_accepted, api, token(keys, "k2", signer="k2")),
            within=PATIENCE_SECONDS,
            what="the refreshed k2 accepted",
        )
        details = await call(api, token(keys, "k1"))
        assert details.code == grpc.StatusCode.UNAUTHENTICATED


async def _refused(api: Api, keys: dict[str, Any], code: grpc.StatusCode) -> bool:
    details = await call(api, token(keys, "k1"))
    return details is not None and details.code == code


async def _accepted(api: Api, bearer: str) -> bool:
    return await call(api, bearer) is None


async def test_a_fetch_that_hangs_times_out_as_unavailable(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> None:
    jwks_server.hold()
    async for api in serve(sqlite_url, jwks_url=jwks_server.url, jwks_fetch_timeout_seconds=0.5):
        details = await call(api, token(keys, "k1"), deadline=10)
        assert (details.code, details.reason) == (
            grpc.StatusCode.UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
        )
        assert details.retry_delay_seconds is not None
        jwks_server.release()


async def test_an_oversized_jwks_is_refused(
    sqlite_url: str, jwks_server: JwksServer, keys: dict[str, Any]
) -> None:
    jwks_server.padding = 64 * 1024
    async for api in serve(sqlite_url, jwks_url=jwks_server.url, jwks_max_bytes=16 * 1024):
        details = await call(api, token(keys, "k1"))
        assert details.code == grpc.StatusCode.UNAVAILABLE
        assert api.sample("usersuite_jwks_fetch_failures_total") >= 1


async def test_https_jwks_is_verified_against_the_configured_ca(
    sqlite_url: str, tmp_path: Path, keys: dict[str, Any]
) -> None:
    authority = CertificateAuthority()
    ca_file = authority.write(tmp_path, "jwks-ca")
    server = JwksServer(cert=authority.issue_server().write(tmp_path, "jwks"))
    server.keys = [jwk_of(keys["k1"], "k1")]
    try:
        async for api in serve(sqlite_url, jwks_url=server.url, jwks_ca_file=str(ca_file)):
            assert await call(api, token(keys, "k1")) is None
        # Without our CA the certificate is not trusted: no keys, so no token is accepted.
        async for api in serve(sqlite_url, jwks_url=server.url):
            details = await call(api, token(keys, "k1"))
            assert details.code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.close()
