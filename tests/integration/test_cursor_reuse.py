"""Page tokens stay valid across deletes: a user created later is never skipped (issue 9.7)."""

from tests.support.stubs import AsyncUserStub
from user.v1 import user_pb2


async def create(stub: AsyncUserStub, user_id: str) -> None:
    await stub.CreateUser(
        user_pb2.CreateUserRequest(
            user_id=user_id,
            user=user_pb2.User(display_name=user_id, email=f"{user_id}@example.com"),
        )
    )


async def test_a_user_created_after_the_newest_were_deleted_is_listed(
    stub: AsyncUserStub,
) -> None:
    for user_id in ("ada1", "bob1", "cy01"):
        await create(stub, user_id)
    first = await stub.ListUsers(user_pb2.ListUsersRequest(page_size=2))
    assert [u.name for u in first.users] == ["users/ada1", "users/bob1"]
    assert first.next_page_token
    # The newest users go away; their numbers must not be handed out again.
    for user_id in ("cy01", "bob1"):
        await stub.DeleteUser(user_pb2.DeleteUserRequest(name=f"users/{user_id}"))
    await create(stub, "dee1")
    rest = await stub.ListUsers(
        user_pb2.ListUsersRequest(page_size=2, page_token=first.next_page_token)
    )
    assert [u.name for u in rest.users] == ["users/dee1"]
