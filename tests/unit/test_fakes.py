"""The fakes keep the unit-of-work contract the handler tests rely on: nothing without commit."""

from datetime import UTC, datetime

import pytest

from tests.support.fakes import FakeDatabase, FakeUnitOfWork
from usersuite.platform.domain.events import EventMetadata
from usersuite.users.domain.errors import EmailAlreadyExists, UserAlreadyExists
from usersuite.users.domain.events import UserCreated
from usersuite.users.domain.model import User

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def user(user_id: str, email: str) -> User:
    return User(user_id, "Someone", email, T0, T0, 1)


def created(u: User) -> UserCreated:
    return UserCreated(EventMetadata("e-" + u.id, T0, u.name, 1, ""), u)


# Users are frozen, so every test may share this one.
ADA = user("ada-lovelace", "ada@example.com")


async def add_created(uow: FakeUnitOfWork, u: User) -> None:
    """What a create handler stages: the user and its UserCreated event."""
    await uow.users.add(u)
    await uow.outbox.append(created(u))


async def test_changes_are_invisible_until_commit() -> None:
    db = FakeDatabase()
    async with db.uow() as uow:
        await add_created(uow, ADA)
        assert await uow.users.get("ada-lovelace") == ADA
        assert db.users == []
        assert db.events == []
        await uow.commit()

    assert db.users == [ADA]
    assert db.events == [created(ADA)]


async def test_leaving_without_commit_discards_everything() -> None:
    db = FakeDatabase()
    async with db.uow() as uow:
        await add_created(uow, ADA)
        assert await uow.idempotency.claim("r1", "fp") is None

    assert db.users == []
    assert db.events == []
    assert db.committed.requests == {}
    async with db.uow() as uow:
        assert await uow.users.get("ada-lovelace") is None


async def test_an_exception_rolls_back() -> None:
    db = FakeDatabase()

    async def add_then_fail() -> None:
        async with db.uow() as uow:
            await uow.users.add(ADA)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await add_then_fail()

    assert db.users == []
    assert db.rollbacks == 1


async def test_clashes_are_reported_like_the_database_does() -> None:
    db = FakeDatabase()
    async with db.uow() as uow:
        await uow.users.add(user("ada-lovelace", "ada@example.com"))
        with pytest.raises(UserAlreadyExists):
            await uow.users.add(user("ada-lovelace", "other@example.com"))
        with pytest.raises(EmailAlreadyExists):
            await uow.users.add(user("someone", "ADA@example.com"))


async def test_update_and_delete_check_the_expected_version() -> None:
    db = FakeDatabase()
    async with db.uow() as uow:
        await uow.users.add(ADA)
        newer = User(ADA.id, "Ada King", ADA.email, T0, T0, 2)
        assert not await uow.users.update(newer, expected_version=2)
        assert await uow.users.update(newer, expected_version=1)
        assert not await uow.users.delete(ADA.id, expected_version=1)
        assert await uow.users.delete(ADA.id, expected_version=2)
        assert await uow.users.get(ADA.id) is None


async def test_list_after_is_keyset_ordered() -> None:
    db = FakeDatabase()
    users = [user(f"user-{n}", f"u{n}@example.com") for n in range(5)]
    async with db.uow() as uow:
        for u in users:
            await uow.users.add(u)
        first = await uow.users.list_after(0, 2)
        rest = await uow.users.list_after(first[-1][0], 10)

    assert [u for _, u in first + rest] == users


async def test_using_the_unit_outside_async_with_is_an_error() -> None:
    uow = FakeDatabase().uow()
    with pytest.raises(RuntimeError, match="async with"):
        await uow.users.get("ada-lovelace")
