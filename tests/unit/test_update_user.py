"""UpdateUser through the handlers: field masks, etags, versions and UserUpdated events."""

import pytest

from tests.support.fakes import FakeDatabase, SteppingClock
from usersuite.users.domain.errors import (
    EmailAlreadyExists,
    EtagMismatch,
    UserNotFound,
    ValidationFailed,
)
from usersuite.users.domain.events import UserUpdated
from usersuite.users.domain.model import User
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

ADA = "ada-lovelace"


@pytest.fixture
async def ada(handlers: UserHandlers) -> User:
    return await handlers.create_user(
        commands.CreateUser(display_name="Ada Lovelace", email="ada@example.com", user_id=ADA)
    )


def update(
    paths: list[str] | None = None, etag: str = "", principal: str = "", **values: str
) -> commands.UpdateUser:
    full = {"display_name": "", "email": ""}
    full.update(values)
    return commands.UpdateUser(ADA, full, paths=paths, etag=etag, principal=principal)


def violated_fields(error: ValidationFailed) -> list[str]:
    return [v.field for v in error.violations]


async def test_without_a_mask_only_non_empty_fields_are_updated(
    handlers: UserHandlers, ada: User
) -> None:
    updated = await handlers.update_user(update(display_name="Ada King"))

    assert updated.display_name == "Ada King"
    assert updated.email == ada.email


async def test_without_a_mask_and_without_values_there_is_nothing_to_update(
    handlers: UserHandlers, ada: User
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.update_user(update())

    assert violated_fields(caught.value) == ["update_mask"]


async def test_a_mask_updates_only_the_named_fields(handlers: UserHandlers, ada: User) -> None:
    updated = await handlers.update_user(
        update(paths=["email"], display_name="Ignored Name", email="Ada@Lovelace.org")
    )

    assert updated.email == "ada@lovelace.org"
    assert updated.display_name == "Ada Lovelace"


async def test_a_mask_naming_an_empty_field_fails_on_that_field(
    handlers: UserHandlers, ada: User
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.update_user(update(paths=["display_name"]))

    assert violated_fields(caught.value) == ["user.display_name"]


async def test_star_replaces_every_mutable_field(handlers: UserHandlers, ada: User) -> None:
    updated = await handlers.update_user(
        update(paths=["*"], display_name="Ada King", email="ada@king.org")
    )

    assert (updated.display_name, updated.email) == ("Ada King", "ada@king.org")


async def test_star_with_a_missing_field_fails_because_it_replaces_it(
    handlers: UserHandlers, ada: User
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.update_user(update(paths=["*"], display_name="Ada King"))

    assert violated_fields(caught.value) == ["user.email"]


async def test_star_mixed_with_other_paths_is_refused(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.update_user(
            update(paths=["*", "email"], display_name="Ada King", email="ada@king.org")
        )

    assert violated_fields(caught.value) == ["update_mask"]
    assert db.user(ADA) == ada


@pytest.mark.parametrize(
    ("paths", "why"),
    [
        (["nickname"], "update_mask.paths[0]: 'nickname' is not a field"),
        (["display_name", "nickname"], "update_mask.paths[1]: 'nickname' is not a field"),
        (["create_time"], "update_mask.paths[0]: 'create_time' is output only"),
        (["update_time"], "update_mask.paths[0]: 'update_time' is output only"),
        (["email", "etag"], "update_mask.paths[1]: 'etag' is output only"),
        (["name"], "update_mask.paths[0]: 'name' is immutable"),
    ],
)
async def test_paths_that_cannot_be_updated_are_refused_by_index(
    handlers: UserHandlers, db: FakeDatabase, ada: User, paths: list[str], why: str
) -> None:
    where, what = why.split(": ")
    with pytest.raises(ValidationFailed) as caught:
        await handlers.update_user(update(paths=paths, display_name="Ada King", email="a@b.org"))

    assert violated_fields(caught.value) == [where]
    assert what in caught.value.violations[0].description
    assert db.user(ADA) == ada
    assert len(db.events) == 1


async def test_every_bad_path_and_value_is_reported_at_once(
    handlers: UserHandlers, ada: User
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await handlers.update_user(
            update(paths=["name", "email", "etag", "display_name"], email="bad", display_name=" ")
        )

    assert sorted(violated_fields(caught.value)) == [
        "update_mask.paths[0]",
        "update_mask.paths[2]",
        "user.display_name",
        "user.email",
    ]


async def test_update_bumps_version_and_appends_user_updated(
    handlers: UserHandlers, db: FakeDatabase, clock: SteppingClock, ada: User
) -> None:
    updated = await handlers.update_user(
        update(paths=["display_name", "email"], display_name="Ada King", email="ada@example.com")
    )

    assert updated.version == 2
    assert updated.update_time > ada.update_time
    assert updated.create_time == ada.create_time
    assert updated.etag != ada.etag
    assert db.user(ADA) == updated
    assert len(db.events) == 2
    event = db.events[1]
    assert isinstance(event, UserUpdated)
    assert event.user == updated
    assert event.changed_fields == ("display_name",)
    assert event.metadata.aggregate_name == f"users/{ADA}"
    assert event.metadata.aggregate_version == 2
    assert event.metadata.occurred_time == updated.update_time
    assert event.metadata.event_id != db.events[0].metadata.event_id


async def test_update_records_the_principal(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.update_user(update(display_name="Ada King", principal="bob"))

    assert db.events[-1].metadata.principal == "bob"


async def test_successive_updates_count_versions(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.update_user(update(display_name="Ada King"))
    third = await handlers.update_user(update(email="countess@example.com"))

    assert third.version == 3
    assert [e.metadata.aggregate_version for e in db.events] == [1, 2, 3]
    assert isinstance(db.events[2], UserUpdated)
    assert db.events[2].changed_fields == ("email",)


async def test_a_no_op_update_appends_no_event_and_keeps_the_version(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    same = await handlers.update_user(
        update(paths=["*"], display_name=" Ada Lovelace ", email="ADA@example.com")
    )

    assert same == ada
    assert same.etag == ada.etag
    assert db.user(ADA) == ada
    assert len(db.events) == 1


async def test_the_current_etag_allows_the_update(handlers: UserHandlers, ada: User) -> None:
    updated = await handlers.update_user(update(display_name="Ada King", etag=ada.etag))

    assert updated.display_name == "Ada King"


async def test_a_stale_etag_fails_with_etag_mismatch(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    current = await handlers.update_user(update(display_name="Ada King"))

    with pytest.raises(EtagMismatch) as caught:
        await handlers.update_user(update(display_name="Someone Else", etag=ada.etag))

    assert caught.value.user_id == ADA
    assert db.user(ADA) == current
    assert len(db.events) == 2


async def test_update_of_an_unknown_user_fails_with_user_not_found(
    handlers: UserHandlers, db: FakeDatabase
) -> None:
    with pytest.raises(UserNotFound):
        await handlers.update_user(update(display_name="Ada King"))

    assert db.events == []


async def test_update_to_a_taken_email_fails_and_changes_nothing(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    await handlers.create_user(
        commands.CreateUser(display_name="Grace", email="grace@example.com", user_id="grace")
    )

    with pytest.raises(EmailAlreadyExists):
        await handlers.update_user(update(email="Grace@Example.com"))

    assert db.user(ADA) == ada
    assert len(db.events) == 2


async def test_a_failed_update_leaves_neither_change_nor_event(
    handlers: UserHandlers, db: FakeDatabase, ada: User
) -> None:
    db.fail_outbox_with = RuntimeError("outbox write failed")

    with pytest.raises(RuntimeError):
        await handlers.update_user(update(display_name="Ada King"))

    assert db.user(ADA) == ada
    assert len(db.events) == 1
