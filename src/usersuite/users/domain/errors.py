"""The user domain's errors, on the shared base; the API maps them to statuses."""

from usersuite.platform.domain.errors import (
    DomainError,
    FieldViolation,
    InvalidPageToken,
    InvalidValue,
    RequestIdReused,
    ValidationFailed,
)

__all__ = [
    "DomainError",
    "EmailAlreadyExists",
    "EtagMismatch",
    "FieldViolation",
    "InvalidPageToken",
    "InvalidValue",
    "RequestIdReused",
    "UserAlreadyExists",
    "UserNotFound",
    "ValidationFailed",
]


class UserNotFound(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"user 'users/{user_id}' not found")
        self.user_id = user_id


class UserAlreadyExists(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"user 'users/{user_id}' already exists")
        self.user_id = user_id


class EmailAlreadyExists(DomainError):
    def __init__(self, email: str) -> None:
        # The address itself stays out of the message: it is personal data.
        super().__init__("another user already has this email address")
        self.email = email


class EtagMismatch(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"etag of 'users/{user_id}' does not match its current etag; get it again and retry"
        )
        self.user_id = user_id
