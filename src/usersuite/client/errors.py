"""Typed client errors: the gRPC status with its decoded google.rpc details as attributes."""

from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass
class ServiceError(Exception):
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


# The name from when the SDK had one service; every client raises ServiceError (and its kinds).
UserServiceError = ServiceError


class FailedPrecondition(ServiceError):
    """FAILED_PRECONDITION, e.g. ORDER_NOT_CANCELLABLE or CREDIT_LIMIT_BELOW_RESERVED."""


class InvalidArgument(ServiceError):
    """INVALID_ARGUMENT: see `violations`."""


class NotFound(ServiceError):
    """NOT_FOUND."""


class AlreadyExists(ServiceError):
    """ALREADY_EXISTS."""


class Aborted(ServiceError):
    """ABORTED, e.g. ETAG_MISMATCH: read the resource again and retry with its fresh etag."""


class Unauthenticated(ServiceError):
    """UNAUTHENTICATED: no valid credentials."""


class PermissionDenied(ServiceError):
    """PERMISSION_DENIED: the token lacks a scope."""


class Unavailable(ServiceError):
    """UNAVAILABLE after the service config's retries; see `retry_delay`."""


class DeadlineExceeded(ServiceError):
    """DEADLINE_EXCEEDED."""


class ResourceExhausted(ServiceError):
    """RESOURCE_EXHAUSTED, e.g. RATE_LIMITED; see `retry_delay`."""


class CircuitOpen(ServiceError):
    """The client's circuit breaker is open: the call was not sent."""


_BY_CODE: dict[grpc.StatusCode, type[ServiceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}


def _apply(error: ServiceError, status: status_pb2.Status) -> None:
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
) -> ServiceError:
    """The typed error of a failed call, from its code, message and trailing metadata."""
    error = _BY_CODE.get(code, ServiceError)(code=code, message=message)
    raw = [
        value for key, value in trailing if key == STATUS_DETAILS_KEY and isinstance(value, bytes)
    ]
    if raw:
        try:
            _apply(error, status_pb2.Status.FromString(raw[0]))
        except DecodeError:
            error.undecodable_details += 1
    return error
