"""The Python client SDK of user.v1.UserService: typed async calls, the published service config,
a circuit breaker, a static or refreshing token, trace propagation and typed errors."""

from usersuite.client.breaker import CircuitBreaker
from usersuite.client.client import TokenSupply, UserClient
from usersuite.client.errors import (
    Aborted,
    AlreadyExists,
    CircuitOpen,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    UserServiceError,
)

__all__ = [
    "Aborted",
    "AlreadyExists",
    "CircuitBreaker",
    "CircuitOpen",
    "DeadlineExceeded",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "TokenSupply",
    "Unauthenticated",
    "Unavailable",
    "UserClient",
    "UserServiceError",
]
