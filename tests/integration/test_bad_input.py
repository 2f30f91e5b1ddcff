"""Property-based: whatever a client sends, the answer is a well-formed status, never INTERNAL."""

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.postgres import Postgres
from tests.support.settings import make_settings
from tests.support.status import details_of
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import bootstrap
from usersuite.platform.grpc.auth.jwt import mint_token
from usersuite.platform.grpc.server import ApiServer, start

SECRET = "property-test-hs256-secret-0123456789abcdef"
METHODS = ("CreateUser", "GetUser", "ListUsers", "UpdateUser", "DeleteUser")


class ServerThread:
    """An in-process server on its own event loop, so blocking clients can drive it."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = url
        self.server: ApiServer | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "server did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        auth = {"enabled": True, "hs256_secret": SECRET}
        limits = {"rate_limit_enabled": False}
        self.container = bootstrap(make_settings(self.url, auth=auth, limits=limits))
        self.server = self.loop.run_until_complete(start(self.container, "127.0.0.1:0"))
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self.server is not None
            await self.server.stop(0)
            await self.container.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres: Postgres
) -> Iterator[tuple[grpc.Channel, Any]]:
    """One server per database for the whole module: the property tests share it."""
    from usersuite.users.adapters.db.schema import migrations as migrate

    if request.param == "postgresql":
        url = postgres.new_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
        migrate.upgrade(url)
    server = ServerThread(url)
    assert server.server is not None
    token = mint_token(SECRET.encode(), subject="fuzzer", scopes=["users.read", "users.write"],
                       issuer="usersuite", audience="usersuite")  # fmt: skip
    channel = grpc.insecure_channel(f"127.0.0.1:{server.server.port}")
    yield channel, (("authorization", f"Bearer {token}"),)
    channel.close()
    server.stop()


text = st.text(max_size=300)  # includes NUL and every other code point PostgreSQL may refuse
names = st.one_of(text, text.map(lambda s: "users/" + s), st.just("users/"))
users = st.builds(
    user_pb2.User, name=names, display_name=text, email=st.one_of(text, st.emails()), etag=text
)
masks = st.one_of(st.none(), st.lists(st.one_of(text, st.sampled_from(
    ["display_name", "email", "*", "name", "etag", "create_time"])), max_size=4))  # fmt: skip
requests = {
    "CreateUser": st.builds(
        user_pb2.CreateUserRequest,
        user=users,
        user_id=st.one_of(text, st.from_regex(r"[a-z][a-z0-9-]{2,20}[a-z0-9]", fullmatch=True)),
        request_id=st.one_of(text, st.uuids().map(str)),
    ),
    "GetUser": st.builds(user_pb2.GetUserRequest, name=names),
    "ListUsers": st.builds(
        user_pb2.ListUsersRequest,
        page_size=st.integers(-(2**31), 2**31 - 1),
        page_token=text,
    ),
    "UpdateUser": st.builds(
        lambda user, paths: user_pb2.UpdateUserRequest(
            user=user, update_mask=None if paths is None else FieldMask(paths=paths)
        ),
        users,
        masks,
    ),
    "DeleteUser": st.builds(user_pb2.DeleteUserRequest, name=names, etag=text),
}
raw_call = st.tuples(st.sampled_from(METHODS), st.binary(max_size=200))


def assert_well_formed(error: grpc.RpcError) -> None:
    details = details_of(error)
    assert details.code != grpc.StatusCode.INTERNAL, details
    assert details.code != grpc.StatusCode.UNKNOWN, details
    assert details.reason, f"no ErrorInfo in {details}"
    assert details.domain == "usersuite.user.v1"
    if details.code == grpc.StatusCode.INVALID_ARGUMENT:
        assert details.violations, f"INVALID_ARGUMENT without field violations: {details}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_generated_request_gets_a_well_formed_answer(
    client: tuple[grpc.Channel, Any], data: st.DataObject
) -> None:
    channel, metadata = client
    method = data.draw(st.sampled_from(METHODS))
    request = data.draw(requests[method])
    stub = user_pb2_grpc.UserServiceStub(channel)
    try:
        getattr(stub, method)(request, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        assert_well_formed(error)


@settings(max_examples=200, deadline=None)
@given(call=raw_call)
def test_undecodable_bytes_are_invalid_argument_not_internal(
    client: tuple[grpc.Channel, Any], call: tuple[str, bytes]
) -> None:
    channel, metadata = client
    method, body = call
    send = channel.unary_unary(
        f"/user.v1.UserService/{method}",
        request_serializer=lambda raw: raw,
        response_deserializer=lambda raw: raw,
    )
    try:
        send(body, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        assert_well_formed(error)


def test_health_is_serving_after_the_onslaught(client: tuple[grpc.Channel, Any]) -> None:
    channel, _ = client
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "user.v1.UserService"):
        status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    stub = user_pb2_grpc.UserServiceStub(channel)
    _, metadata = client
    created = stub.CreateUser(
        user_pb2.CreateUserRequest(
            user=user_pb2.User(display_name="Still fine", email=f"{uuid.uuid4().hex}@example.com")
        ),
        metadata=metadata,
    )
    assert created.name


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("GetUser", user_pb2.GetUserRequest(name="users/a\x00b")),
        ("GetUser", user_pb2.GetUserRequest(name="users/ABC")),
        ("DeleteUser", user_pb2.DeleteUserRequest(name="users/" + "a" * 300)),
        ("CreateUser", user_pb2.CreateUserRequest(
            user=user_pb2.User(display_name="x", email="x@example.com"),
            request_id="urn:uuid:12345678-1234-5678-1234-567812345678")),
    ],
)  # fmt: skip
def test_known_troublemakers_are_handled(
    client: tuple[grpc.Channel, Any], method: str, body: Any
) -> None:
    channel, metadata = client
    try:
        getattr(user_pb2_grpc.UserServiceStub(channel), method)(body, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        assert_well_formed(error)


def test_an_unknown_method_is_unimplemented(client: tuple[grpc.Channel, Any]) -> None:
    channel, metadata = client
    call = channel.unary_unary("/user.v1.UserService/Nope", lambda b: b, lambda b: b)
    with pytest.raises(grpc.RpcError) as caught:
        call(b"", metadata=metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_an_overlong_subject_is_refused_not_stored(client: tuple[grpc.Channel, Any]) -> None:
    channel, _ = client
    token = mint_token(SECRET.encode(), subject="s" * 300, scopes=["users.write"],
                       issuer="usersuite", audience="usersuite")  # fmt: skip
    stub = user_pb2_grpc.UserServiceStub(channel)
    request = user_pb2.CreateUserRequest(
        user=user_pb2.User(display_name="Long", email=f"{uuid.uuid4().hex}@example.com")
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateUser(request, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
    details = details_of(caught.value)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
