"""A captured signed call is accepted by one API replica only (issue 9.10), on PostgreSQL."""

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import grpc
import pytest

from tests.support.settings import make_settings
from tests.support.status import details_of
from tests.support.stubs import AsyncUserStub
from user.v1 import user_pb2
from usersuite.bootstrap import bootstrap
from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.nonces import SqlNonceStore
from usersuite.platform.grpc.auth.signing import sign_request
from usersuite.platform.grpc.server import start

KEY_ID, SECRET = "svc-a", "svc-a-request-signing-secret-0123456789"
LIST = "/user.v1.UserService/ListUsers"


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[list[AsyncUserStub]]:
    """Two API servers, each its own process state, over one PostgreSQL database."""
    auth = {"enabled": True, "signing_keys": {KEY_ID: SECRET}}
    stubs: list[AsyncUserStub] = []
    async with AsyncExitStack() as stack:
        for _ in range(2):
            container = bootstrap(make_settings(pg_url, auth=auth))
            stack.push_async_callback(container.close)
            running = await start(container, "127.0.0.1:0")
            stack.push_async_callback(running.stop, 0)
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
            stack.push_async_callback(channel.close, None)
            stubs.append(AsyncUserStub(channel))
        yield stubs


async def test_a_signed_call_replayed_to_another_replica_is_refused(
    replicas: list[AsyncUserStub],
) -> None:
    first, second = replicas
    request = user_pb2.ListUsersRequest(page_size=5)
    metadata = tuple(sign_request(LIST, request.SerializeToString(), KEY_ID, SECRET.encode()))
    await first.ListUsers(request, metadata=metadata, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await second.ListUsers(request, metadata=metadata, timeout=10)
    details = details_of(caught.value)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert "already used" in details.message
    # A call signed afresh is still welcome on either replica.
    fresh = tuple(sign_request(LIST, request.SerializeToString(), KEY_ID, SECRET.encode()))
    await second.ListUsers(request, metadata=fresh, timeout=10)


async def test_expired_nonces_are_purged_and_may_be_claimed_again(pg_url: str) -> None:
    now = [time.time()]
    engine = create_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=5)
    store = SqlNonceStore(engine, clock=lambda: now[0])
    try:
        assert await store.claim(KEY_ID, "nonce-0001", now[0] + 300)
        assert not await store.claim(KEY_ID, "nonce-0001", now[0] + 300)
        assert await store.claim(KEY_ID, "nonce-0002", now[0] + 10)
        now[0] += 60  # nonce-0002's timestamp can no longer be accepted
        assert await store.purge() == 1
        assert not await store.claim(KEY_ID, "nonce-0001", now[0] + 300)
        assert await store.claim(KEY_ID, "nonce-0002", now[0] + 300)
        now[0] += 600
        assert await store.claim(KEY_ID, "nonce-0001", now[0] + 300), "an expired row blocks"
    finally:
        await store.close()
        await engine.dispose()
