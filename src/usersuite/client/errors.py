"""Typed client errors: the gRPC status with its decoded google.rpc details as attributes."""

from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass
class UserServiceError(Exception):
    """A failed call. `reason` is the ErrorInfo reason (e.g. `ETAG_MISMATCH`), `violations` maps
    each BadRequest field to its description, `retry_delay` is the RetryInfo delay in seconds.
    `undecodable_details` counts details the server sent that could not be decoded."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: dict[str, str] = field(default_factory=dict)
    retry_delay: float | None = None
    undecodable_details: int = 0

    def __str__(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class InvalidArgument(UserServiceError):
    """INVALID_ARGUMENT: see `violations`."""


class NotFound(UserServiceError):
    """NOT_FOUND."""


class AlreadyExists(UserServiceError):
    """ALREADY_EXISTS."""


class Aborted(UserServiceError):
    """ABORTED, e.g. ETAG_MISMATCH: get the user again and retry with the fresh etag."""


class Unauthenticated(UserServiceError):
    """UNAUTHENTICATED: no valid credentials."""


class PermissionDenied(UserServiceError):
    """PERMISSION_DENIED: the token lacks a scope."""


class Unavailable(UserServiceError):
    """UNAVAILABLE after the service config's retries; see `retry_delay`."""


class DeadlineExceeded(UserServiceError):
    """DEADLINE_EXCEEDED."""


class ResourceExhausted(UserServiceError):
    """RESOURCE_EXHAUSTED, e.g. RATE_LIMITED; see `retry_delay`."""


class CircuitOpen(UserServiceError):
    """The client's circuit breaker is open: the call was not sent."""


_BY_CODE: dict[grpc.StatusCode, type[UserServiceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}


def _apply(error: UserServiceError, status: status_pb2.Status) -> None:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        try:
            if detail.Unpack(info):
                error.reason, error.domain, error.metadata = (
                    info.reason,
                    info.domain,
                    dict(info.metadata),
                )
            elif detail.Unpack(bad):
                error.violations = {v.field: v.description for v in bad.field_violations}
            elif detail.Unpack(retry):
                error.retry_delay = retry.retry_delay.ToNanoseconds() / 1e9
        except DecodeError:
            error.undecodable_details += 1


def error_from(
    code: grpc.StatusCode, message: str, trailing: Iterable[tuple[str, str | bytes]]
) -> UserServiceError:
    """The typed error of a failed call, from its code, message and trailing metadata."""
    error = _BY_CODE.get(code, UserServiceError)(code=code, message=message)
    raw = [
        value for key, value in trailing if key == STATUS_DETAILS_KEY and isinstance(value, bytes)
    ]
    if raw:
        try:
            _apply(error, status_pb2.Status.FromString(raw[0]))
        except DecodeError:
            error.undecodable_details += 1
    return error
