"""DeleteUser through the handlers: etags, the UserDeleted event and a second delete."""

import pytest

from tests.support.fakes import FakeDatabase
from usersuite.users.domain.errors import EtagMismatch, UserNotFound
from usersuite.users.domain.events import UserDeleted
from usersuite.users.domain.model import User
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

ADA = "ada-lovelace"


@pytest.fixture
async def ada(handlers: UserHandlers) -> User:
    return await handlers.create_user(
        commands.CreateUser(display_name="Ada Lovelace", email="ada@example.com", user_id=ADA)
    )


async def test_delete_removes_the_user_and_appends_user_deleted(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.delete_user(commands.DeleteUser(ADA, principal="carol"))

    assert db.user(ADA) is None
    assert len(db.events) == 2
    event = db.events[1]
    assert isinstance(event, UserDeleted)
    assert event.name == f"users/{ADA}"
    assert event.metadata.aggregate_name == f"users/{ADA}"
    assert event.metadata.aggregate_version == ada.version + 1
    assert event.metadata.principal == "carol"
    assert event.metadata.occurred_time > ada.update_time


async def test_delete_after_updates_continues_the_version_count(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.update_user(commands.UpdateUser(ADA, {"display_name": "Ada King"}))

    await handlers.delete_user(commands.DeleteUser(ADA))

    assert [e.metadata.aggregate_version for e in db.events] == [1, 2, 3]


async def test_a_deleted_user_is_gone_for_get(handlers: UserHandlers, ada: User) -> None:
    await handlers.delete_user(commands.DeleteUser(ADA))

    with pytest.raises(UserNotFound):
        await handlers.get_user(commands.GetUser(ADA))


async def test_a_second_delete_fails_with_user_not_found(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.delete_user(commands.DeleteUser(ADA))

    with pytest.raises(UserNotFound):
        await handlers.delete_user(commands.DeleteUser(ADA))

    assert len(db.events) == 2


async def test_the_current_etag_allows_the_delete(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.delete_user(commands.DeleteUser(ADA, etag=ada.etag))

    assert db.user(ADA) is None


async def test_a_stale_etag_fails_and_keeps_the_user(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    current = await handlers.update_user(commands.UpdateUser(ADA, {"display_name": "Ada King"}))

    with pytest.raises(EtagMismatch):
        await handlers.delete_user(commands.DeleteUser(ADA, etag=ada.etag))

    assert db.user(ADA) == current
    assert not any(isinstance(e, UserDeleted) for e in db.events)


async def test_a_failed_delete_keeps_the_user_and_appends_nothing(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    db.fail_outbox_with = RuntimeError("outbox write failed")

    with pytest.raises(RuntimeError):
        await handlers.delete_user(commands.DeleteUser(ADA))

    assert db.user(ADA) == ada
    assert len(db.events) == 1


async def test_a_deleted_users_email_can_be_used_again(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.delete_user(commands.DeleteUser(ADA))

    again = await handlers.create_user(
        commands.CreateUser(display_name="Ada", email="ada@example.com", user_id="ada-two")
    )

    assert db.users == [again]
