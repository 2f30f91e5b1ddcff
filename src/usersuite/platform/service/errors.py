"""Infrastructure conditions the service ports may raise: a dependency is down, time ran out.

They are not domain rules, but callers handle them like domain errors, so they share the base.
"""

from usersuite.platform.domain.errors import DomainError


class ServiceUnavailable(DomainError):
    """A dependency (the database) cannot be reached now; the call may be retried."""

    def __init__(self, message: str, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class DeadlineExceeded(DomainError):
    """The call's deadline passed before its work (e.g. a database statement) finished."""

    def __init__(self, message: str = "the deadline passed before the work finished") -> None:
        super().__init__(message)
