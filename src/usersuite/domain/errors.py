"""Domain errors: what can go wrong, in the domain's words; the API maps them to statuses."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: its path in the request and what is wrong with it."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every error the service layer raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(ValueError):
    """A value object refused a value; the caller knows which request field it came from."""


@dataclass
class ValidationFailed(DomainError):
    """One or more request fields are missing or malformed."""

    violations: list[FieldViolation] = field(default_factory=list)

    def __post_init__(self) -> None:
        fields = ", ".join(v.field for v in self.violations)
        DomainError.__init__(self, f"invalid request: {fields}")


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


class InvalidPageToken(DomainError):
    def __init__(self, why: str) -> None:
        super().__init__(f"invalid page_token: {why}")


class RequestIdReused(DomainError):
    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"request_id '{request_id}' was already used for a different request; "
            "use a new request_id for a new request"
        )
        self.request_id = request_id
