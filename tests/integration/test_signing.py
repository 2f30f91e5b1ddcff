"""Signed requests through a real channel: the server checks the signature over the wire bytes."""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from sqlalchemy import select

from tests.support.serving import serving
from tests.support.status import details_of
from user.v1 import events_pb2, user_pb2, user_pb2_grpc
from usersuite.bootstrap import UsersContainer
from usersuite.platform.db.tables import outbox
from usersuite.platform.grpc.auth.signing import SIGNATURE, sign_request

Code = grpc.StatusCode
Metadata = list[tuple[str, str]]
KEY_ID = "svc-a"
SECRET = "svc-a-request-signing-secret-0123456789"
CREATE = "/user.v1.UserService/CreateUser"
LIST = "/user.v1.UserService/ListUsers"
RESPONSES: dict[str, Callable[[bytes], Message]] = {
    CREATE: user_pb2.User.FromString,
    LIST: user_pb2.ListUsersResponse.FromString,
}
CALL_TIMEOUT = 10.0


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[grpc.aio.Channel, UsersContainer]]:
    auth = {"enabled": True, "signing_keys": {KEY_ID: SECRET}}
    async with (
        serving(sqlite_url, auth=auth) as running,
        grpc.aio.insecure_channel(running.target) as channel,
    ):
        yield channel, running.container


def raw_call(
    channel: grpc.aio.Channel, method: str, body: bytes, metadata: Metadata
) -> Awaitable[Any]:
    """Sends `body` as the request bytes exactly, so the test knows what the server hashes."""
    call = channel.unary_unary(
        method,
        request_serializer=lambda raw: raw,
        response_deserializer=RESPONSES[method],
    )
    return call(body, metadata=metadata, timeout=CALL_TIMEOUT)


def create_body(email: str) -> bytes:
    user = user_pb2.User(display_name="Ada", email=email)
    return user_pb2.CreateUserRequest(user=user).SerializeToString()


LIST_BODY = user_pb2.ListUsersRequest(page_size=10).SerializeToString()


def signed(
    method: str,
    body: bytes,
    *,
    key_id: str = KEY_ID,
    key: bytes = SECRET.encode(),
    timestamp: float | None = None,
) -> Metadata:
    return sign_request(method, body, key_id, key, timestamp=timestamp)


async def rejected(call: Awaitable[Any], metadata: Metadata) -> str:
    """Asserts UNAUTHENTICATED with its ErrorInfo; returns the message."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    details = details_of(caught.value)
    assert details.code == Code.UNAUTHENTICATED
    assert details.reason == "UNAUTHENTICATED"
    assert SECRET not in details.message
    assert dict(metadata)[SIGNATURE] not in details.message
    return details.message


async def recorded_principals(container: UsersContainer) -> list[str]:
    async with container.engine.connect() as conn:
        payloads = await conn.scalars(select(outbox.c.payload).order_by(outbox.c.seq))
        return [events_pb2.UserCreated.FromString(p).metadata.principal for p in payloads]


async def test_signed_call_succeeds_as_the_signer(
    served: tuple[grpc.aio.Channel, UsersContainer],
) -> None:
    channel, container = served
    body = create_body("ada@example.com")

    created = await raw_call(channel, CREATE, body, signed(CREATE, body))
    listed = await raw_call(channel, LIST, LIST_BODY, signed(LIST, LIST_BODY))

    assert list(listed.users) == [created]
    assert await recorded_principals(container) == [f"signer:{KEY_ID}"]


async def test_signed_call_through_the_generated_stub_succeeds(
    served: tuple[grpc.aio.Channel, UsersContainer],
) -> None:
    # The stub serializes the message itself; for a simple message those are the bytes signed.
    channel, _ = served
    request = user_pb2.ListUsersRequest(page_size=10)
    metadata = signed(LIST, request.SerializeToString())

    listed = await user_pb2_grpc.UserServiceStub(channel).ListUsers(
        request, metadata=metadata, timeout=CALL_TIMEOUT
    )

    assert list(listed.users) == []


async def test_tampered_body_is_unauthenticated(
    served: tuple[grpc.aio.Channel, UsersContainer],
) -> None:
    channel, container = served
    metadata = signed(CREATE, create_body("ada@example.com"))

    message = await rejected(
        raw_call(channel, CREATE, create_body("mallory@example.com"), metadata), metadata
    )

    assert "does not match" in message
    assert await recorded_principals(container) == []


async def test_replayed_metadata_is_unauthenticated(
    served: tuple[grpc.aio.Channel, UsersContainer],
) -> None:
    channel, _ = served
    metadata = signed(LIST, LIST_BODY)
    await raw_call(channel, LIST, LIST_BODY, metadata)

    message = await rejected(raw_call(channel, LIST, LIST_BODY, metadata), metadata)

    assert "already used" in message


@pytest.mark.parametrize(
    ("signing", "complaint"),
    [
        pytest.param({"timestamp_age": 3600.0}, "timestamp", id="stale-timestamp"),
        pytest.param(
            {"key_id": "svc-b", "key": b"svc-b-secret-0123456789abcdefghij"},
            "unknown",
            id="unknown-key-id",
        ),
        pytest.param(
            {"key": b"not-the-secret-of-svc-a-0123456789"},
            "does not match",
            id="wrong-secret-for-a-known-key-id",
        ),
    ],
)
async def test_a_listing_signed_wrongly_is_unauthenticated(
    served: tuple[grpc.aio.Channel, UsersContainer], signing: dict[str, Any], complaint: str
) -> None:
    channel, _ = served
    keys = {name: value for name, value in signing.items() if name != "timestamp_age"}
    age = signing.get("timestamp_age")
    metadata = signed(LIST, LIST_BODY, timestamp=None if age is None else time.time() - age, **keys)

    message = await rejected(raw_call(channel, LIST, LIST_BODY, metadata), metadata)

    assert complaint in message


async def test_signature_for_another_method_is_unauthenticated(
    served: tuple[grpc.aio.Channel, UsersContainer],
) -> None:
    # A read signature cannot be replayed against a write method with the same bytes.
    channel, container = served
    body = create_body("ada@example.com")
    metadata = signed(LIST, body)

    await rejected(raw_call(channel, CREATE, body, metadata), metadata)

    assert await recorded_principals(container) == []
