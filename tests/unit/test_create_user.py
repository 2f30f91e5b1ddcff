"""CreateUser through the handlers and the in-memory unit of work."""

import pytest

from tests.support.fakes import T0, Counter, FakeDatabase
from usersuite.users.domain.errors import (
    EmailAlreadyExists,
    RequestIdReused,
    UserAlreadyExists,
    ValidationFailed,
)
from usersuite.users.domain.events import UserCreated
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

REQUEST_ID = "6f1c2d3e-4b5a-4c6d-8e7f-001122334455"


def create(**overrides: str) -> commands.CreateUser:
    values = {"display_name": "Ada Lovelace", "email": "ada@example.com"}
    values.update(overrides)
    return commands.CreateUser(**values)


async def test_create_stores_the_normalised_user_with_a_generated_id(
    handlers: UserHandlers, db: FakeDatabase, user_ids: Counter
) -> None:
    user = await handlers.create_user(
        create(display_name="  Ada Lovelace ", email="Ada@Example.COM")
    )

    assert user.id == user_ids.issued[0]
    assert user.display_name == "Ada Lovelace"
    assert user.email == "ada@example.com"
    assert user.version == 1
    assert user.create_time == user.update_time == T0
    assert db.users == [user]


async def test_create_uses_the_client_chosen_id(
    handlers: UserHandlers, db: FakeDatabase, user_ids: Counter
) -> None:
    user = await handlers.create_user(create(user_id="ada-lovelace"))

    assert user.id == "ada-lovelace"
    assert user.name == "users/ada-lovelace"
    assert user_ids.issued == []
    assert db.user("ada-lovelace") == user


async def test_create_appends_user_created_with_version_1_and_the_principal(
    handlers: UserHandlers, db: FakeDatabase, event_ids: Counter
) -> None:
    user = await handlers.create_user(create(user_id="ada-lovelace", principal="alice"))

    assert len(db.events) == 1
    event = db.events[0]
    assert isinstance(event, UserCreated)
    assert event.user == user
    assert event.metadata.aggregate_name == "users/ada-lovelace"
    assert event.metadata.aggregate_version == 1
    assert event.metadata.principal == "alice"
    assert event.metadata.occurred_time == user.create_time
    assert event.metadata.event_id == event_ids.issued[0]


async def test_every_invalid_field_is_reported_at_once(
    handlers: UserHandlers, db: FakeDatabase
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.create_user(
            create(display_name="   ", email="not-an-email", user_id="1-bad", request_id="nope")
        )

    fields = [v.field for v in caught.value.violations]
    assert sorted(fields) == ["request_id", "user.display_name", "user.email", "user_id"]
    for violation in caught.value.violations:
        assert violation.description.startswith(violation.field)
    assert db.users == []
    assert db.events == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"display_name": ""}, "user.display_name", id="blank-name"),
        pytest.param({"display_name": "x" * 101}, "user.display_name", id="long-name"),
        pytest.param({"display_name": "Ada\x07"}, "user.display_name", id="control-char-name"),
        pytest.param({"email": ""}, "user.email", id="no-email"),
        pytest.param({"email": "ada@"}, "user.email", id="bad-email"),
        pytest.param({"user_id": "abc"}, "user_id", id="short-id"),
        pytest.param({"user_id": "Ada-Lovelace"}, "user_id", id="upper-case-id"),
        pytest.param({"user_id": "abcd\n"}, "user_id", id="id-with-trailing-newline"),
        # A generated-looking id is the server's to choose, never the client's.
        pytest.param(
            {"user_id": "01j00000000000000000000001"}, "user_id", id="generated-looking-id"
        ),
        pytest.param({"request_id": "not-a-uuid"}, "request_id", id="request-id-not-uuid"),
    ],
)
async def test_a_single_invalid_field_is_named_by_its_request_path(
    handlers: UserHandlers, db: FakeDatabase, overrides: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.create_user(create(**overrides))

    assert [v.field for v in caught.value.violations] == [field]
    assert db.users == []


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        pytest.param(
            {"user_id": "ada-lovelace"},
            {"user_id": "ada-lovelace", "email": "other@example.com"},
            UserAlreadyExists,
            id="a-taken-user-id-fails-with-user-already-exists",
        ),
        pytest.param(
            {"email": "ada@example.com"},
            {"email": "ADA@example.com", "display_name": "Someone"},
            EmailAlreadyExists,
            id="a-taken-email-fails-regardless-of-case",
        ),
    ],
)
async def test_a_taken_identity_fails_and_changes_nothing(
    handlers: UserHandlers,
    db: FakeDatabase,
    first: dict[str, str],
    second: dict[str, str],
    error: type[Exception],
) -> None:
    await handlers.create_user(create(**first))

    with pytest.raises(error):
        await handlers.create_user(create(**second))

    assert len(db.users) == 1
    assert len(db.events) == 1


async def test_request_id_replay_returns_the_same_user_without_a_second_event(
    handlers: UserHandlers, db: FakeDatabase
) -> None:
    first = await handlers.create_user(create(request_id=REQUEST_ID))
    again = await handlers.create_user(create(request_id=REQUEST_ID))

    assert again == first
    assert db.users == [first]
    assert len(db.events) == 1


async def test_request_id_replay_with_an_equivalent_body_returns_the_same_user(
    handlers: UserHandlers, db: FakeDatabase
) -> None:
    first = await handlers.create_user(create(request_id=REQUEST_ID))
    again = await handlers.create_user(
        create(request_id=REQUEST_ID, display_name=" Ada Lovelace ", email="ADA@example.com")
    )

    assert again == first
    assert len(db.users) == 1


@pytest.mark.parametrize(
    "different",
    [
        {"display_name": "Grace Hopper"},
        {"email": "grace@example.com"},
        {"user_id": "grace-hopper"},
    ],
)
async def test_request_id_reused_with_a_different_body_fails(
    handlers: UserHandlers, db: FakeDatabase, different: dict[str, str]
) -> None:
    first = await handlers.create_user(create(request_id=REQUEST_ID))

    with pytest.raises(RequestIdReused) as caught:
        await handlers.create_user(create(request_id=REQUEST_ID, **different))

    assert caught.value.request_id == REQUEST_ID
    assert db.users == [first]
    assert len(db.events) == 1


async def test_without_request_id_two_calls_create_two_users(
    handlers: UserHandlers, db: FakeDatabase
) -> None:
    await handlers.create_user(create(email="ada@example.com"))
    await handlers.create_user(create(email="ada2@example.com"))

    assert len(db.users) == 2
    assert len(db.events) == 2


async def test_a_failed_create_leaves_neither_user_nor_event_nor_request_id(
    handlers: UserHandlers, db: FakeDatabase
) -> None:
    db.fail_outbox_with = RuntimeError("outbox write failed")

    with pytest.raises(RuntimeError, match="outbox write failed"):
        await handlers.create_user(create(user_id="ada-lovelace", request_id=REQUEST_ID))

    assert db.users == []
    assert db.events == []
    assert db.commits == 0
    # The request id was not kept either, so a retry does the work instead of replaying.
    user = await handlers.create_user(create(user_id="ada-lovelace", request_id=REQUEST_ID))
    assert db.users == [user]
    assert len(db.events) == 1
