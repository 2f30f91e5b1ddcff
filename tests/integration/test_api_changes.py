"""UserService semantics through a real gRPC channel, on PostgreSQL and on SQLite: updating and
deleting users, and the event each change appends."""

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select

from tests.support.status import failure
from tests.support.stubs import AsyncUserStub, create, events, new_user
from user.v1 import events_pb2, user_pb2
from usersuite.bootstrap import UsersContainer
from usersuite.platform.db.tables import outbox

Stub = AsyncUserStub
Code = grpc.StatusCode


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
    stub: Stub, container: UsersContainer
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


async def test_failed_changes_write_no_event(stub: Stub, container: UsersContainer) -> None:
    await create(stub, user=new_user(email="one@example.com"))
    await failure(create(stub, user=new_user(email="one@example.com")))
    await failure(stub.DeleteUser(user_pb2.DeleteUserRequest(name="users/ghost-user")))
    assert len(await events(container)) == 1


async def test_a_callers_trace_context_reaches_the_event_with_tracing_off(
    stub: Stub, container: UsersContainer
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    await stub.CreateUser(
        user_pb2.CreateUserRequest(user=new_user()), metadata=(("traceparent", traceparent),)
    )
    async with container.engine.connect() as conn:
        stored = (await conn.execute(select(outbox.c.trace_context))).scalar_one()
    assert trace_id in stored
