"""The Python client SDK of the suite: a client per service (users, orders, billing) with typed
async calls, the published service config, a circuit breaker, a static or refreshing token,
trace propagation and typed errors."""

from usersuite.client.base import ServiceClient, TokenSupply
from usersuite.client.billing import BillingClient
from usersuite.client.breaker import CircuitBreaker
from usersuite.client.client import UserClient
from usersuite.client.errors import (
    Aborted,
    AlreadyExists,
    CircuitOpen,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    ServiceError,
    Unauthenticated,
    Unavailable,
    UserServiceError,
)
from usersuite.client.orders import OrderClient, OrderNotSettled, line_item

__all__ = [
    "Aborted",
    "AlreadyExists",
    "BillingClient",
    "CircuitBreaker",
    "CircuitOpen",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "OrderClient",
    "OrderNotSettled",
    "PermissionDenied",
    "ResourceExhausted",
    "ServiceClient",
    "ServiceError",
    "TokenSupply",
    "Unauthenticated",
    "Unavailable",
    "UserClient",
    "UserServiceError",
    "line_item",
]
