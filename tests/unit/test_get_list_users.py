"""GetUser and ListUsers through the handlers: not found, page sizes and page tokens."""

import base64

import pytest

from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.domain.errors import InvalidPageToken, UserNotFound, ValidationFailed
from usersuite.users.domain.model import User
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers


async def seed(handlers: UserHandlers, count: int) -> list[User]:
    return [
        await handlers.create_user(
            commands.CreateUser(display_name=f"User {n}", email=f"user{n}@example.com")
        )
        for n in range(count)
    ]


async def list_users(
    handlers: UserHandlers, page_size: int = 0, page_token: str = ""
) -> tuple[list[User], str]:
    page = await handlers.list_users(commands.ListUsers(page_size, page_token))
    return page.users, page.next_page_token


async def test_get_returns_the_stored_user(handlers: UserHandlers) -> None:
    created = await handlers.create_user(
        commands.CreateUser(display_name="Ada", email="ada@example.com", user_id="ada-lovelace")
    )

    assert await handlers.get_user(commands.GetUser("ada-lovelace")) == created


async def test_get_of_an_unknown_user_fails_with_user_not_found(handlers: UserHandlers) -> None:
    with pytest.raises(UserNotFound) as caught:
        await handlers.get_user(commands.GetUser("nobody"))

    assert caught.value.user_id == "nobody"
    assert "users/nobody" in caught.value.message


async def test_list_of_an_empty_store_is_one_empty_last_page(handlers: UserHandlers) -> None:
    assert await list_users(handlers) == ([], "")


async def test_list_returns_users_oldest_first(handlers: UserHandlers) -> None:
    users = await seed(handlers, 3)

    assert await list_users(handlers) == (users, "")


async def test_list_defaults_to_50_users_per_page(handlers: UserHandlers) -> None:
    users = await seed(handlers, 51)

    page, token = await list_users(handlers, page_size=0)

    assert page == users[:50]
    assert token
    rest, last = await list_users(handlers, page_size=0, page_token=token)
    assert rest == users[50:]
    assert last == ""


async def test_list_caps_page_size_at_1000(handlers: UserHandlers) -> None:
    users = await seed(handlers, 1001)

    page, token = await list_users(handlers, page_size=5000)

    assert len(page) == 1000
    assert page == users[:1000]
    rest, last = await list_users(handlers, page_size=5000, page_token=token)
    assert rest == users[1000:]
    assert last == ""


async def test_negative_page_size_fails_on_page_size(handlers: UserHandlers) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await list_users(handlers, page_size=-1)

    assert [v.field for v in caught.value.violations] == ["page_size"]


async def test_next_token_only_when_more_rows_exist(handlers: UserHandlers) -> None:
    users = await seed(handlers, 4)

    exact, exact_token = await list_users(handlers, page_size=4)
    assert exact == users
    assert exact_token == ""

    first, token = await list_users(handlers, page_size=3)
    assert first == users[:3]
    assert token


async def test_pages_walk_every_user_exactly_once(handlers: UserHandlers) -> None:
    users = await seed(handlers, 7)

    seen: list[User] = []
    token = ""
    pages = 0
    while True:
        page, token = await list_users(handlers, page_size=2, page_token=token)
        seen.extend(page)
        pages += 1
        if not token:
            break

    assert seen == users
    assert pages == 4


async def test_paging_is_stable_when_an_earlier_user_is_deleted(handlers: UserHandlers) -> None:
    users = await seed(handlers, 4)
    _, token = await list_users(handlers, page_size=2)

    await handlers.delete_user(commands.DeleteUser(users[0].id))

    page, _ = await list_users(handlers, page_size=2, page_token=token)
    assert page == users[2:]


@pytest.mark.parametrize("other_size", [0, 3, 1000])
async def test_a_token_reused_with_another_page_size_fails(
    handlers: UserHandlers, other_size: int
) -> None:
    await seed(handlers, 5)
    _, token = await list_users(handlers, page_size=2)

    with pytest.raises(InvalidPageToken):
        await list_users(handlers, page_size=other_size, page_token=token)


async def test_a_token_with_an_altered_byte_fails(handlers: UserHandlers) -> None:
    await seed(handlers, 5)
    _, token = await list_users(handlers, page_size=2)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))

    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("=")
        with pytest.raises(InvalidPageToken):
            await list_users(handlers, page_size=2, page_token=forged)


async def test_a_token_forged_with_another_key_fails(handlers: UserHandlers) -> None:
    await seed(handlers, 5)
    forged = PageTokenCodec(b"an attacker's own key, 32 bytes!").encode(2, "page_size=2")

    with pytest.raises(InvalidPageToken):
        await list_users(handlers, page_size=2, page_token=forged)


@pytest.mark.parametrize("garbage", ["x", "not a token", "!!!!", "====", "é", "AAAA" * 20])
async def test_a_garbage_token_fails(handlers: UserHandlers, garbage: str) -> None:
    with pytest.raises(InvalidPageToken):
        await list_users(handlers, page_size=2, page_token=garbage)
