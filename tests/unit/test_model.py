"""The User aggregate and its value objects: ids, display names, e-mail addresses, etags."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from ulid import ULID

from usersuite.users.domain import model
from usersuite.users.domain.errors import InvalidValue
from usersuite.users.domain.model import (
    User,
    check_display_name,
    check_user_id,
    normalize_email,
)
from usersuite.users.service.handlers import new_user_id

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def make_user(**overrides: object) -> User:
    values: dict[str, object] = {
        "id": "ada-lovelace",
        "display_name": "Ada Lovelace",
        "email": "ada@example.com",
        "create_time": T0,
        "update_time": T0,
        "version": 1,
    }
    values.update(overrides)
    return User(**values)  # type: ignore[arg-type]


# --- user ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "user_id",
    [
        "abcd",  # the shortest: 4 characters
        "a" * 63,  # the longest: 63 characters
        "ada-lovelace",
        "user-42",
        "a-b-c-9",
        "z0z0",
    ],
)
def test_client_chosen_ids_that_follow_aip_122_are_accepted(user_id: str) -> None:
    assert check_user_id(user_id, allow_generated=False) == user_id
    assert check_user_id(user_id, allow_generated=True) == user_id


@pytest.mark.parametrize(
    "user_id",
    [
        "",
        "abc",  # 3 characters: too short
        "a" * 64,  # 64 characters: too long
        "1abc",  # starts with a digit
        "-abc",  # starts with '-'
        "abc-",  # ends with '-'
        "Abcd",  # upper case
        "ab_cd",  # underscore
        "ab.cd",
        "ab cd",
        "abçd",  # non-ASCII letter
        "users/abcd",
        "abcd\n",  # a trailing newline is not one of a-z, 0-9, '-'
        "\nabcd",
    ],
)
def test_ids_that_break_the_aip_122_rule_are_refused(user_id: str) -> None:
    with pytest.raises(InvalidValue):
        check_user_id(user_id, allow_generated=False)


def test_generated_ulids_are_accepted_only_with_allow_generated() -> None:
    generated = new_user_id()

    assert len(generated) == 26
    assert generated[0].isdigit()
    assert check_user_id(generated, allow_generated=True) == generated
    with pytest.raises(InvalidValue):
        check_user_id(generated, allow_generated=False)


def test_the_server_generates_lower_case_ulids_that_sort_by_creation_time() -> None:
    earlier = str(ULID.from_datetime(T0)).lower()
    later = str(ULID.from_datetime(T0 + timedelta(seconds=1))).lower()

    assert earlier < later
    generated = new_user_id()
    assert generated == generated.lower()
    assert check_user_id(earlier, allow_generated=True) == earlier


@pytest.mark.parametrize(
    "user_id",
    [
        "01HZZZZZZZZZZZZZZZZZZZZZZZ",  # upper case
        "01hzzzzzzzzzzzzzzzzzzzzzz",  # 25 characters
        "01hzzzzzzzzzzzzzzzzzzzzzzzz",  # 27 characters
        "01hzzzzzzzzzzzzzzzzzzzzzzu",  # 'u' is not in Crockford's alphabet
        "01hzzzzzzzzzzzzzzzzzzzzzzz\n",  # 26 valid characters, then a newline
    ],
)
def test_malformed_generated_ids_are_refused_even_with_allow_generated(user_id: str) -> None:
    with pytest.raises(InvalidValue):
        check_user_id(user_id, allow_generated=True)


# --- display names ----------------------------------------------------------------------------


def test_display_name_is_trimmed() -> None:
    assert check_display_name("  Ada Lovelace \t ") == "Ada Lovelace"


def test_display_name_keeps_inner_spaces_and_unicode() -> None:
    assert check_display_name("Zoë  Ångström 李") == "Zoë  Ångström 李"


def test_display_name_is_stored_in_nfc() -> None:
    assert check_display_name("Zoe\u0308") == "Zo\u00eb"


@pytest.mark.parametrize("blank", ["", " ", "\t \n", "\u3000"])
def test_blank_display_name_is_refused(blank: str) -> None:
    with pytest.raises(InvalidValue, match="required"):
        check_display_name(blank)


def test_display_name_of_100_characters_is_accepted_after_trimming() -> None:
    name = "x" * 100
    assert check_display_name(f"  {name}  ") == name


def test_display_name_over_100_characters_is_refused() -> None:
    with pytest.raises(InvalidValue, match="100"):
        check_display_name("x" * 101)


@pytest.mark.parametrize(
    "name",
    [
        "Ada\tLovelace",
        "Ada\nLovelace",
        "Ada\x00Lovelace",
        "Ada\x1bLovelace",
        "Ada\x7fLovelace",
        "Ada\u200bLovelace",  # zero-width space (format character)
        "Ada\u202eLovelace",  # right-to-left override
    ],
)
def test_display_name_with_control_characters_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue, match="control"):
        check_display_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "\u0646\u06cc\u0645\u0627\u200c\u0631\u0636\u0627\u06cc\u06cc",  # Persian, with ZWNJ
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji (ZWJ sequence)
        "\u0915\u094d\u200d\u0937",  # Devanagari with ZWJ
    ],
)
def test_display_names_keep_the_joiners_real_names_need(name: str) -> None:
    assert check_display_name(name) == name


# --- e-mail addresses -------------------------------------------------------------------------


def test_email_is_lower_cased() -> None:
    assert normalize_email("Ada.Lovelace@Example.COM") == "ada.lovelace@example.com"


def test_email_with_an_international_domain_is_normalised_to_nfc_lower_case() -> None:
    assert normalize_email("Zoe\u0308@B\u00fccher.de") == "zo\u00eb@b\u00fccher.de"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada lovelace@example.com",
        "ada@exa mple.com",
        "ada@example..com",
    ],
)
def test_invalid_email_syntax_is_refused(email: str) -> None:
    with pytest.raises(InvalidValue):
        normalize_email(email)


def _email_of_length(length: int) -> str:
    domain = "a" * 63 + "." + "b" * 63 + "." + "c" * 57 + ".com"  # 189 characters
    local = "x" * (length - 1 - len(domain))
    email = f"{local}@{domain}"
    assert len(email) == length
    return email


def test_email_of_254_characters_is_accepted() -> None:
    email = _email_of_length(254)
    assert normalize_email(email) == email


def test_email_over_254_characters_is_refused() -> None:
    with pytest.raises(InvalidValue, match="254"):
        normalize_email("x" * 300 + "@example.com")
    with pytest.raises(InvalidValue):
        normalize_email(_email_of_length(255))


# --- the aggregate ----------------------------------------------------------------------------


def test_name_is_the_resource_name() -> None:
    assert make_user().name == "users/ada-lovelace"


def test_etag_is_stable_for_the_same_state() -> None:
    assert make_user().etag == make_user().etag
    assert make_user().etag


def test_etag_changes_with_version() -> None:
    assert make_user(version=1).etag != make_user(version=2).etag


def test_etag_differs_between_users_with_the_same_version() -> None:
    assert make_user(id="ada-lovelace").etag != make_user(id="grace-hopper").etag


def test_etag_changes_with_each_update() -> None:
    user = make_user()
    updated, _ = user.with_changes({"display_name": "Ada King"}, T0 + timedelta(seconds=1))
    again, _ = updated.with_changes({"display_name": "Ada Lovelace"}, T0 + timedelta(seconds=2))

    assert len({user.etag, updated.etag, again.etag}) == 3


def test_changed_returns_only_the_fields_that_really_changed_and_bumps_version() -> None:
    user = make_user()
    later = T0 + timedelta(minutes=5)

    updated, changed = user.with_changes(
        {"display_name": "Ada Lovelace", "email": "ada@lovelace.org"}, later
    )

    assert changed == ["email"]
    assert updated.email == "ada@lovelace.org"
    assert updated.display_name == "Ada Lovelace"
    assert updated.version == 2
    assert updated.update_time == later
    assert updated.create_time == T0
    assert updated.id == user.id


def test_changed_with_both_fields_reports_both() -> None:
    updated, changed = make_user().with_changes(
        {"display_name": "Ada King", "email": "ada@king.org"}, T0 + timedelta(seconds=1)
    )

    assert sorted(changed) == ["display_name", "email"]
    assert (updated.display_name, updated.email, updated.version) == ("Ada King", "ada@king.org", 2)


def test_changed_with_equal_values_is_a_no_op() -> None:
    user = make_user()

    same, changed = user.with_changes(
        {"display_name": user.display_name, "email": user.email}, T0 + timedelta(hours=1)
    )

    assert changed == []
    assert same == user
    assert same.version == 1
    assert same.update_time == T0


def test_changed_ignores_fields_that_are_not_mutable() -> None:
    user = make_user()

    same, changed = user.with_changes({"id": "someone-else"}, T0 + timedelta(hours=1))

    assert changed == []
    assert same is user


def test_user_is_immutable() -> None:
    user = make_user()
    with pytest.raises(AttributeError):
        user.version = 5  # type: ignore[misc]
    assert replace(user, version=5).version == 5
    assert user.version == 1


def test_email_length_is_checked_after_normalisation(monkeypatch: pytest.MonkeyPatch) -> None:
    # email-validator 2.4 bounds the UTF-8 length of its own normal form, which keeps ours
    # short too; a validator that counted otherwise must still not let a long value through.
    grown = "\u0130" * 127 + "@example.com"  # lower-cases to 254 + 12 code points

    class Result:
        normalized = grown

    monkeypatch.setattr(model, "validate_email", lambda value, **_: Result())
    with pytest.raises(InvalidValue, match="254 characters once normalised"):
        normalize_email("short@example.com")


def test_email_that_grows_when_lower_cased_is_stored_lower_cased() -> None:
    grown = normalize_email("\u0130" * 60 + "@example.com")  # 72 characters in
    assert len(grown) == 132
    assert grown == "i\u0307" * 60 + "@example.com"
