"""Every error code of the API with its details, as grpcurl -format-error prints them."""

import uuid
from typing import Any

import pytest

from tests.support import user_api as api
from tests.support.grpcurl import Grpcurl

# --- every error code with its details (grpcurl -format-error) --------------------------------


def test_invalid_argument_validation_failed_names_every_bad_field(grpcurl: Grpcurl) -> None:
    status = grpcurl.error(
        api.CREATE,
        {
            "user": {"display_name": "   ", "email": "not-an-address"},
            "user_id": "Bad_Id",
            "request_id": "not-a-uuid",
        },
        api.INVALID_ARGUMENT,
    )

    api.assert_error(
        status, "VALIDATION_FAILED", {"user.display_name", "user.email", "user_id", "request_id"}
    )


@pytest.mark.parametrize(
    ("method", "request_body", "field"),
    [
        (api.GET, {"name": "nobody"}, "name"),
        (api.DELETE, {"name": "groups/x"}, "name"),
        (api.LIST, {"page_size": -1}, "page_size"),
        (
            api.UPDATE,
            {"user": {"name": "users/someone", "etag": "x"}, "update_mask": {"paths": ["etag"]}},
            "update_mask.paths[0]",
        ),
        (api.UPDATE, {"user": {"display_name": "x"}}, "user.name"),
    ],
    ids=["get-name", "delete-name", "list-page-size", "update-output-only-path", "update-no-name"],
)
def test_invalid_argument_validation_failed_per_method(
    grpcurl: Grpcurl, method: str, request_body: dict[str, Any], field: str
) -> None:
    status = grpcurl.error(method, request_body, api.INVALID_ARGUMENT)

    api.assert_error(status, "VALIDATION_FAILED", {field})


def test_invalid_argument_invalid_page_token(grpcurl: Grpcurl) -> None:
    garbage = grpcurl.error(api.LIST, {"page_token": "not-a-token"}, api.INVALID_ARGUMENT)
    api.assert_error(garbage, "INVALID_PAGE_TOKEN", {"page_token"})

    for _ in range(2):
        api.create(grpcurl)
    token = grpcurl.ok(api.LIST, {"page_size": 1})["nextPageToken"]
    other_size = grpcurl.error(
        api.LIST, {"page_size": 2, "page_token": token}, api.INVALID_ARGUMENT
    )
    api.assert_error(other_size, "INVALID_PAGE_TOKEN", {"page_token"})

    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    tampered = grpcurl.error(
        api.LIST, {"page_size": 1, "page_token": altered}, api.INVALID_ARGUMENT
    )
    api.assert_error(tampered, "INVALID_PAGE_TOKEN", {"page_token"})


def test_invalid_argument_request_id_reused(grpcurl: Grpcurl) -> None:
    request_id = str(uuid.uuid4())
    api.create(grpcurl, request_id=request_id)

    status = grpcurl.error(
        api.CREATE, {"user": api.new_user("other"), "request_id": request_id}, api.INVALID_ARGUMENT
    )

    api.assert_error(status, "REQUEST_ID_REUSED", {"request_id"})


@pytest.mark.parametrize(
    ("method", "request_body"),
    [
        (api.GET, {"name": "users/no-such-user"}),
        (api.UPDATE, {"user": {"name": "users/no-such-user", "display_name": "x"}}),
        (api.DELETE, {"name": "users/no-such-user"}),
    ],
    ids=["get", "update", "delete"],
)
def test_not_found_user_not_found(
    grpcurl: Grpcurl, method: str, request_body: dict[str, Any]
) -> None:
    status = grpcurl.error(method, request_body, api.NOT_FOUND)

    info = api.assert_error(status, "USER_NOT_FOUND")
    assert info["metadata"] == {"name": "users/no-such-user"}


def test_already_exists_email_already_exists_on_create_and_update(grpcurl: Grpcurl) -> None:
    taken = api.create(grpcurl)
    # E-mail addresses are api.unique without regard to case.
    same_email = {"display_name": "Twin", "email": taken["email"].upper()}

    on_create = grpcurl.error(api.CREATE, {"user": same_email}, api.ALREADY_EXISTS)
    api.assert_error(on_create, "EMAIL_ALREADY_EXISTS", {"user.email"})
    assert taken["email"] not in on_create["message"], "the message leaks the address"

    other = api.create(grpcurl)
    on_update = grpcurl.error(
        api.UPDATE, {"user": {"name": other["name"], "email": taken["email"]}}, api.ALREADY_EXISTS
    )
    api.assert_error(on_update, "EMAIL_ALREADY_EXISTS", {"user.email"})


def test_already_exists_user_already_exists(grpcurl: Grpcurl) -> None:
    user_id = api.unique("taken")
    api.create(grpcurl, user_id=user_id)

    status = grpcurl.error(
        api.CREATE, {"user": api.new_user(), "user_id": user_id}, api.ALREADY_EXISTS
    )

    info = api.assert_error(status, "USER_ALREADY_EXISTS")
    assert info["metadata"] == {"name": f"users/{user_id}"}


def test_aborted_etag_mismatch_on_update_and_delete(grpcurl: Grpcurl) -> None:
    user = api.create(grpcurl)
    stale = user["etag"]
    grpcurl.ok(api.UPDATE, {"user": {"name": user["name"], "display_name": "Changed"}})

    on_update = grpcurl.error(
        api.UPDATE,
        {
            "user": {"name": user["name"], "display_name": "Lost update", "etag": stale},
            "update_mask": {"paths": ["display_name"]},
        },
        api.ABORTED,
    )
    info = api.assert_error(on_update, "ETAG_MISMATCH")
    assert info["metadata"] == {"name": user["name"]}

    on_delete = grpcurl.error(api.DELETE, {"name": user["name"], "etag": stale}, api.ABORTED)
    api.assert_error(on_delete, "ETAG_MISMATCH")
    assert grpcurl.ok(api.GET, {"name": user["name"]})["displayName"] == "Changed"
