"""UserService semantics through a real gRPC channel, on PostgreSQL and on SQLite."""

import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from tests.support.status import failure
from tests.support.stubs import AsyncUserStub
from user.v1 import events_pb2, user_pb2
from usersuite.adapters.db.tables import outbox, users
from usersuite.api.container import Container

pytestmark = pytest.mark.integration
Stub = AsyncUserStub
Code = grpc.StatusCode


def new_user(name: str = "Ada Lovelace", email: str = "ada@example.com") -> user_pb2.User:
    return user_pb2.User(display_name=name, email=email)


async def create(stub: Stub, **kwargs: Any) -> user_pb2.User:
    user = kwargs.pop("user", None) or new_user()
    return await stub.CreateUser(user_pb2.CreateUserRequest(user=user, **kwargs))


async def events(container: Container) -> list[tuple[str, bytes]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.seq)
        )
        return [(row.event_type, row.payload) for row in rows]


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
    stub: Stub, container: Container
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


async def test_update_with_mask_changes_only_named_fields_and_the_etag(stub: Stub) -> None:
    user = await create(stub)
    updated = await stub.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(
                name=user.name, display_name="Countess", email="ignored@example.com"
            ),
            update_mask=FieldMask(paths=["display_name"]),
        )
    )
    assert updated.display_name == "Countess"
    assert updated.email == user.email
    assert updated.etag != user.etag
    assert updated.create_time == user.create_time
    assert updated.update_time.ToDatetime() > user.update_time.ToDatetime()


async def test_update_without_mask_updates_the_fields_present(stub: Stub) -> None:
    user = await create(stub)
    updated = await stub.UpdateUser(
        user_pb2.UpdateUserRequest(user=user_pb2.User(name=user.name, email="NEW@example.com"))
    )
    assert (updated.display_name, updated.email) == (user.display_name, "new@example.com")


async def test_update_star_replaces_every_mutable_field(stub: Stub) -> None:
    user = await create(stub)
    details = await failure(
        stub.UpdateUser(
            user_pb2.UpdateUserRequest(
                user=user_pb2.User(name=user.name, display_name="Only name"),
                update_mask=FieldMask(paths=["*"]),
            )
        )
    )
    # `*` replaces every mutable field, so an empty email is a validation error.
    assert "user.email" in details.violations
    replaced = await stub.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(name=user.name, display_name="B", email="b@example.com"),
            update_mask=FieldMask(paths=["*"]),
        )
    )
    assert (replaced.display_name, replaced.email) == ("B", "b@example.com")


@pytest.mark.parametrize(
    ("path", "why"),
    [("create_time", "output only"), ("etag", "output only"), ("name", "immutable"),
     ("nickname", "not a field")],
)  # fmt: skip
async def test_update_rejects_bad_mask_paths(stub: Stub, path: str, why: str) -> None:
    user = await create(stub)
    details = await failure(
        stub.UpdateUser(
            user_pb2.UpdateUserRequest(
                user=user_pb2.User(name=user.name, display_name="X"),
                update_mask=FieldMask(paths=["display_name", path]),
            )
        )
    )
    assert (details.code, details.reason) == (Code.INVALID_ARGUMENT, "VALIDATION_FAILED")
    assert why in details.violations["update_mask.paths[1]"]


async def test_update_with_stale_etag_is_aborted(stub: Stub) -> None:
    user = await create(stub)
    await stub.UpdateUser(
        user_pb2.UpdateUserRequest(
            user=user_pb2.User(name=user.name, display_name="First", etag=user.etag)
        )
    )
    details = await failure(
        stub.UpdateUser(
            user_pb2.UpdateUserRequest(
                user=user_pb2.User(name=user.name, display_name="Second", etag=user.etag)
            )
        )
    )
    assert (details.code, details.reason) == (Code.ABORTED, "ETAG_MISMATCH")


async def test_update_unknown_user_and_email_clash(stub: Stub) -> None:
    missing = await failure(
        stub.UpdateUser(
            user_pb2.UpdateUserRequest(
                user=user_pb2.User(name="users/ghost-user", display_name="X")
            )
        )
    )
    assert missing.code == Code.NOT_FOUND
    await create(stub, user=new_user(email="first@example.com"))
    second = await create(stub, user=new_user(email="second@example.com"))
    clash = await failure(
        stub.UpdateUser(
            user_pb2.UpdateUserRequest(
                user=user_pb2.User(name=second.name, email="first@example.com")
            )
        )
    )
    assert (clash.code, clash.reason) == (Code.ALREADY_EXISTS, "EMAIL_ALREADY_EXISTS")


async def test_delete_honours_etag_then_get_and_second_delete_are_not_found(stub: Stub) -> None:
    user = await create(stub)
    stale = await failure(stub.DeleteUser(user_pb2.DeleteUserRequest(name=user.name, etag="stale")))
    assert (stale.code, stale.reason) == (Code.ABORTED, "ETAG_MISMATCH")
    await stub.DeleteUser(user_pb2.DeleteUserRequest(name=user.name, etag=user.etag))
    assert (
        await failure(stub.GetUser(user_pb2.GetUserRequest(name=user.name)))
    ).code == Code.NOT_FOUND
    again = await failure(stub.DeleteUser(user_pb2.DeleteUserRequest(name=user.name)))
    assert (again.code, again.reason) == (Code.NOT_FOUND, "USER_NOT_FOUND")


async def test_every_change_appends_its_event_with_increasing_versions(
    stub: Stub, container: Container
) -> None:
    user = await create(stub)
    await stub.UpdateUser(
        user_pb2.UpdateUserRequest(user=user_pb2.User(name=user.name, display_name="Two"))
    )
    await stub.DeleteUser(user_pb2.DeleteUserRequest(name=user.name))
    recorded = await events(container)
    assert [event_type for event_type, _ in recorded] == [
        "user.v1.UserCreated", "user.v1.UserUpdated", "user.v1.UserDeleted"
    ]  # fmt: skip
    created = events_pb2.UserCreated.FromString(recorded[0][1])
    updated = events_pb2.UserUpdated.FromString(recorded[1][1])
    deleted = events_pb2.UserDeleted.FromString(recorded[2][1])
    assert created.user == user
    assert list(updated.changed_fields.paths) == ["display_name"]
    assert deleted.name == user.name
    versions = [m.metadata.aggregate_version for m in (created, updated, deleted)]
    assert versions == [1, 2, 3]
    assert len({m.metadata.event_id for m in (created, updated, deleted)}) == 3
    assert {m.metadata.aggregate_name for m in (created, updated, deleted)} == {user.name}


async def test_failed_changes_write_no_event(stub: Stub, container: Container) -> None:
    await create(stub, user=new_user(email="one@example.com"))
    await failure(create(stub, user=new_user(email="one@example.com")))
    await failure(stub.DeleteUser(user_pb2.DeleteUserRequest(name="users/ghost-user")))
    assert len(await events(container)) == 1


async def test_a_callers_trace_context_reaches_the_event_with_tracing_off(
    stub: Stub, container: Container
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    await stub.CreateUser(
        user_pb2.CreateUserRequest(user=new_user()), metadata=(("traceparent", traceparent),)
    )
    async with container.engine.connect() as conn:
        stored = (await conn.execute(select(outbox.c.trace_context))).scalar_one()
    assert trace_id in stored
