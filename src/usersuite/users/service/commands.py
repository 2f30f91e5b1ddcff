"""Commands: what a caller asks the service to do, named imperatively, with request field paths."""

from dataclasses import dataclass


@dataclass(frozen=True)
class CreateUser:
    display_name: str
    email: str
    user_id: str = ""
    request_id: str = ""
    principal: str = ""


@dataclass(frozen=True)
class GetUser:
    user_id: str


@dataclass(frozen=True)
class ListUsers:
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class UpdateUser:
    user_id: str
    values: dict[str, str]
    # None: no mask was sent, so every mutable field with a non-empty value is updated.
    paths: list[str] | None = None
    etag: str = ""
    principal: str = ""


@dataclass(frozen=True)
class DeleteUser:
    user_id: str
    etag: str = ""
    principal: str = ""
