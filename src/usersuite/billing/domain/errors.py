"""Billing's domain errors on the shared base, in the domain's words; the API maps them."""

from usersuite.platform.domain.errors import (
    DomainError,
    FieldViolation,
    InvalidValue,
    ValidationFailed,
)

__all__ = [
    "AccountClosed",
    "AccountNotFound",
    "CreditLimitBelowReserved",
    "DomainError",
    "EtagMismatch",
    "FieldViolation",
    "InvalidValue",
    "ValidationFailed",
]


class AccountNotFound(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"account 'accounts/{user_id}' not found")
        self.user_id = user_id


class AccountClosed(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"account 'accounts/{user_id}' is closed")
        self.user_id = user_id


class CreditLimitBelowReserved(DomainError):
    def __init__(self, user_id: str, credit_limit_minor: int, reserved_minor: int) -> None:
        super().__init__(
            f"credit limit {credit_limit_minor} of 'accounts/{user_id}' is below the "
            f"{reserved_minor} already reserved; release reservations first or choose a "
            "higher limit"
        )
        self.user_id = user_id
        self.credit_limit_minor = credit_limit_minor
        self.reserved_minor = reserved_minor


class EtagMismatch(DomainError):
    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"etag of 'accounts/{user_id}' does not match its current etag; get it again and retry"
        )
        self.user_id = user_id
