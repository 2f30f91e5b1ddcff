"""Orders' domain errors: what can go wrong, in the domain's words; the API maps them."""

from usersuite.platform.domain import errors as shared
from usersuite.platform.domain.errors import (
    DomainError,
    FieldViolation,
    InvalidPageToken,
    RequestIdReused,
    ValidationFailed,
)

__all__ = [
    "DomainError",
    "EtagMismatch",
    "FieldViolation",
    "InvalidPageToken",
    "InvalidValue",
    "OrderAlreadyExists",
    "OrderNotCancellable",
    "OrderNotFound",
    "OrderNotPending",
    "RequestIdReused",
    "ValidationFailed",
]


class InvalidValue(shared.InvalidValue):
    """A value object refused a value.

    `field` is the path inside the order (`line_items[2].quantity`) when the value object knows
    it, empty when only the caller knows which request field it came from.
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class OrderNotFound(DomainError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order 'orders/{order_id}' not found")
        self.order_id = order_id


class OrderAlreadyExists(DomainError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order 'orders/{order_id}' already exists")
        self.order_id = order_id


class OrderNotCancellable(DomainError):
    def __init__(self, order_id: str, state: str) -> None:
        super().__init__(
            f"order 'orders/{order_id}' is {state}; only an APPROVED order can be cancelled"
        )
        self.order_id = order_id
        self.state = state


class OrderNotPending(DomainError):
    """Billing's answer arrived for an order that is no longer waiting for one."""

    def __init__(self, order_id: str, state: str) -> None:
        super().__init__(f"order 'orders/{order_id}' is {state}, not PENDING")
        self.order_id = order_id
        self.state = state


class EtagMismatch(DomainError):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"etag of 'orders/{order_id}' does not match its current etag; get it again and retry"
        )
        self.order_id = order_id
