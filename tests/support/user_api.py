"""UserService through grpcurl, as the end-to-end tests call it: names, new users, error checks."""

import re
import uuid
from datetime import datetime
from typing import Any

import grpc

from tests.support.grpcurl import Grpcurl, error_info, field_violations

SERVICE = "user.v1.UserService"
CREATE = f"{SERVICE}/CreateUser"
GET = f"{SERVICE}/GetUser"
LIST = f"{SERVICE}/ListUsers"
UPDATE = f"{SERVICE}/UpdateUser"
DELETE = f"{SERVICE}/DeleteUser"
DOMAIN = "usersuite.user.v1"
GENERATED_NAME = re.compile(r"^users/[0-9a-hjkmnp-tv-z]{26}$")

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS.value[0]
ABORTED = grpc.StatusCode.ABORTED.value[0]


def unique(prefix: str) -> str:
    """A user id (or e-mail local part) no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_user(prefix: str = "e2e") -> dict[str, Any]:
    return {"display_name": f"User {prefix}", "email": f"{unique(prefix)}@example.com"}


def create(grpcurl: Grpcurl, **request: Any) -> dict[str, Any]:
    request.setdefault("user", new_user())
    user: dict[str, Any] = grpcurl.ok(CREATE, request)
    return user


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_error(
    status: dict[str, Any], reason: str, violations: set[str] | None = None
) -> dict[str, Any]:
    """The printed status has our ErrorInfo (reason, domain) and exactly these violated fields."""
    info = error_info(status)
    assert info["reason"] == reason, status
    assert info["domain"] == DOMAIN, status
    assert status["message"], status
    found = field_violations(status)
    assert set(found) == (violations or set()), status
    assert all(found.values()), f"a field violation without a description: {status}"
    return info
