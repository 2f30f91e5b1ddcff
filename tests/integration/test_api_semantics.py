"""UserService semantics through a real gRPC channel, on PostgreSQL and on SQLite: creating,
getting and listing users."""

import uuid

import grpc
import pytest
from sqlalchemy import func, select

from tests.support.status import failure
from tests.support.stubs import AsyncUserStub, create, events, new_user
from user.v1 import user_pb2
from usersuite.bootstrap import UsersContainer
from usersuite.users.adapters.db.tables import users

Stub = AsyncUserStub
Code = grpc.StatusCode


async def test_create_returns_the_stored_user_with_normalised_email(stub: Stub) -> None:
    created = await create(stub, user=new_user("  Ada  ", "Ada.Lovelace@Example.COM"))
    assert created.name.startswith("users/")
    assert created.display_name == "Ada"
    assert created.email == "ada.lovelace@example.com"
    assert created.create_time == created.update_time
    assert created.etag
    assert await stub.GetUser(user_pb2.GetUserRequest(name=created.name)) == created


async def test_server_ids_sort_by_creation_and_client_ids_are_kept(stub: Stub) -> None:
    first = await create(stub, user=new_user(email="a@example.com"))
    second = await create(stub, user=new_user(email="b@example.com"))
    assert first.name < second.name
    chosen = await create(stub, user=new_user(email="c@example.com"), user_id="ada-lovelace")
    assert chosen.name == "users/ada-lovelace"


@pytest.mark.parametrize(
    ("user", "user_id", "request_id", "bad_fields"),
    [
        (new_user(name=""), "", "", {"user.display_name"}),
        (new_user(name="x" * 101), "", "", {"user.display_name"}),
        (new_user(email="not-an-email"), "", "", {"user.email"}),
        (new_user(email=""), "", "", {"user.email"}),
        (new_user(), "Bad_Id", "", {"user_id"}),
        (new_user(), "ab", "", {"user_id"}),
        (new_user(), "", "not-a-uuid", {"request_id"}),
        (user_pb2.User(), "9starts-with-digit", "", {"user.display_name", "user.email", "user_id"}),
    ],
)
async def test_create_rejects_bad_fields_with_every_violation(
    stub: Stub, user: user_pb2.User, user_id: str, request_id: str, bad_fields: set[str]
) -> None:
    details = await failure(create(stub, user=user, user_id=user_id, request_id=request_id))
    assert details.code == Code.INVALID_ARGUMENT
    assert details.reason == "VALIDATION_FAILED"
    assert details.domain == "usersuite.user.v1"
    assert set(details.violations) == bad_fields


async def test_duplicate_email_and_user_id_are_already_exists(stub: Stub) -> None:
    await create(stub, user=new_user(email="dup@example.com"), user_id="taken-id")
    email_clash = await failure(create(stub, user=new_user(email="DUP@example.com")))
    assert (email_clash.code, email_clash.reason) == (Code.ALREADY_EXISTS, "EMAIL_ALREADY_EXISTS")
    id_clash = await failure(
        create(stub, user=new_user(email="other@example.com"), user_id="taken-id")
    )
    assert (id_clash.code, id_clash.reason) == (Code.ALREADY_EXISTS, "USER_ALREADY_EXISTS")


async def test_request_id_retry_returns_the_same_response_and_creates_one_user(
    stub: Stub, container: UsersContainer
) -> None:
    request_id = str(uuid.uuid4())
    first = await create(stub, request_id=request_id)
    again = await create(stub, request_id=request_id)
    assert again == first
    async with container.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(users)) == 1
    assert len(await events(container)) == 1


async def test_request_id_with_a_different_body_is_rejected(stub: Stub) -> None:
    request_id = str(uuid.uuid4())
    await create(stub, request_id=request_id)
    details = await failure(
        create(stub, user=new_user(email="someone-else@example.com"), request_id=request_id)
    )
    assert (details.code, details.reason) == (Code.INVALID_ARGUMENT, "REQUEST_ID_REUSED")
    assert "request_id" in details.violations


@pytest.mark.parametrize("name", ["", "users/", "user/abc", "users/a/b", "abc"])
async def test_get_with_malformed_name_is_invalid_argument(stub: Stub, name: str) -> None:
    details = await failure(stub.GetUser(user_pb2.GetUserRequest(name=name)))
    assert (details.code, details.reason) == (Code.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert "name" in details.violations


async def test_get_unknown_user_is_not_found(stub: Stub) -> None:
    details = await failure(stub.GetUser(user_pb2.GetUserRequest(name="users/nobody-here")))
    assert (details.code, details.reason) == (Code.NOT_FOUND, "USER_NOT_FOUND")
    assert details.metadata == {"name": "users/nobody-here"}


async def test_list_pages_through_every_user_once_in_creation_order(stub: Stub) -> None:
    created = [await create(stub, user=new_user(email=f"u{i}@example.com")) for i in range(7)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stub.ListUsers(user_pb2.ListUsersRequest(page_size=3, page_token=token))
        assert len(page.users) <= 3
        seen += [user.name for user in page.users]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == [user.name for user in created]
    assert pages == 3


async def test_list_default_page_size_is_50_and_maximum_is_1000(stub: Stub) -> None:
    for i in range(51):
        await create(stub, user=new_user(email=f"p{i}@example.com"))
    default = await stub.ListUsers(user_pb2.ListUsersRequest())
    assert len(default.users) == 50
    assert default.next_page_token
    capped = await stub.ListUsers(user_pb2.ListUsersRequest(page_size=5000))
    assert len(capped.users) == 51
    assert not capped.next_page_token


async def test_list_rejects_negative_page_size(stub: Stub) -> None:
    details = await failure(stub.ListUsers(user_pb2.ListUsersRequest(page_size=-1)))
    assert (details.code, details.reason) == (Code.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert "page_size" in details.violations


async def test_list_rejects_forged_and_reused_page_tokens(stub: Stub) -> None:
    for i in range(3):
        await create(stub, user=new_user(email=f"t{i}@example.com"))
    token = (await stub.ListUsers(user_pb2.ListUsersRequest(page_size=1))).next_page_token
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad_request in (
        user_pb2.ListUsersRequest(page_size=1, page_token=forged),
        user_pb2.ListUsersRequest(page_size=1, page_token="garbage!"),
        user_pb2.ListUsersRequest(page_size=2, page_token=token),
    ):
        details = await failure(stub.ListUsers(bad_request))
        assert (details.code, details.reason) == (Code.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")
