"""Errors every service shares: the base of domain errors, validation, paging and idempotency."""

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
