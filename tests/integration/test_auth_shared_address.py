"""Bad tokens from a shared address cannot lock out valid callers behind it (issue 21).

Every caller here is on 127.0.0.1, as callers behind a NAT, a proxy or a mesh sidecar are, each
on its own connection (a channel with its own subchannel pool).
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import grpc
import jwt
import pytest

from tests.support.serving import serving
from tests.support.status import Details, failure
from tests.support.stubs import AsyncUserStub
from tests.support.tokens import AUDIENCE, HS_SECRET, ISSUER, claims
from user.v1 import user_pb2

pytestmark = pytest.mark.integration
Code = grpc.StatusCode
BURST = 20  # limits.auth_failure_burst's default
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def good_token(subject: str) -> str:
    return jwt.encode(claims(sub=subject), HS_SECRET, "HS256")


def bad_token(n: int) -> str:
    return jwt.encode(claims(sub=f"mallory-{n}"), "not-the-secret-" * 3, "HS256")


@asynccontextmanager
async def callers(
    database_url: str, count: int, *, auth: dict[str, Any], limits: dict[str, Any]
) -> AsyncIterator[list[AsyncUserStub]]:
    """A server and `count` stubs to it, each on its own connection from 127.0.0.1."""
    async with AsyncExitStack() as stack:
        served = await stack.enter_async_context(serving(database_url, auth=auth, limits=limits))
        stubs = []
        for _ in range(count):
            channel = grpc.aio.insecure_channel(served.target, options=OWN_CONNECTION)
            await stack.enter_async_context(channel)
            stubs.append(AsyncUserStub(channel))
        yield stubs


async def list_users(stub: AsyncUserStub, token: str) -> None:
    await stub.ListUsers(user_pb2.ListUsersRequest(), metadata=bearer(token), timeout=10)


async def refused(stub: AsyncUserStub, token: str) -> Details:
    return await failure(list_users(stub, token))


async def test_bad_tokens_from_a_shared_address_do_not_lock_out_valid_callers(
    sqlite_url: str,
) -> None:
    auth = {"enabled": True, "hs256_secret": HS_SECRET, "issuer": ISSUER, "audience": AUDIENCE}
    async with callers(sqlite_url, 2, auth=auth, limits={}) as (valid, attacker):
        known = good_token("alice")
        await list_users(valid, known)  # verified once, now in the verified-token cache
        for n in range(25):  # rotating tokens
            assert (await refused(attacker, bad_token(n))).code == Code.UNAUTHENTICATED
        repeated = bad_token(99)
        for _ in range(BURST):
            assert (await refused(attacker, repeated)).code == Code.UNAUTHENTICATED
        # The attacker repeating its token is still limited, before any verification.
        limited = await refused(attacker, repeated)
        assert (limited.code, limited.reason) == (Code.RESOURCE_EXHAUSTED, "RATE_LIMITED")
        assert limited.metadata == {"limit": "failed authentication"}
        # Callers behind the same address are not: a cached token and one never seen before.
        await list_users(valid, known)
        await list_users(valid, good_token("bob"))
        await list_users(attacker, good_token("carol"))


async def test_rotating_bad_tokens_exhaust_the_server_cap_but_cached_tokens_still_pass(
    sqlite_url: str,
) -> None:
    auth = {"enabled": True, "hs256_secret": HS_SECRET, "issuer": ISSUER, "audience": AUDIENCE}
    limits = {"auth_failure_global_burst": 5, "auth_failure_global_rate_per_second": 0.001}
    async with callers(sqlite_url, 2, auth=auth, limits=limits) as (valid, attacker):
        known = good_token("alice")
        await list_users(valid, known)
        for n in range(5):
            assert (await refused(attacker, bad_token(n))).code == Code.UNAUTHENTICATED
        capped = await refused(attacker, bad_token(5))
        assert (capped.code, capped.reason) == (Code.RESOURCE_EXHAUSTED, "RATE_LIMITED")
        assert capped.metadata == {"limit": "failed authentication (server)"}
        # While the server's budget is spent, only tokens that need verifying wait for it.
        await list_users(valid, known)
        fresh = await refused(valid, good_token("bob"))
        assert fresh.code == Code.RESOURCE_EXHAUSTED
        assert fresh.retry_delay_seconds is not None


async def test_anonymous_callers_share_a_bucket_per_address_whatever_their_port(
    sqlite_url: str,
) -> None:
    limits = {"principal_burst": 3, "principal_rate_per_second": 0.001}
    async with callers(sqlite_url, 2, auth={}, limits=limits) as (first, second):
        for _ in range(3):
            await second.ListUsers(user_pb2.ListUsersRequest(), timeout=10)
        limited = await failure(first.ListUsers(user_pb2.ListUsersRequest(), timeout=10))
        assert (limited.code, limited.metadata) == (Code.RESOURCE_EXHAUSTED, {"limit": "principal"})
