"""The one mapping from errors to gRPC statuses with google.rpc details (AIP-193).

The shared errors (validation, paging, idempotency, credentials, limits, dependencies) map here;
each service adds its own domain errors and names its ErrorInfo domain in an ErrorCatalog."""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from usersuite.platform.domain import errors
from usersuite.platform.service.errors import DeadlineExceeded, ServiceUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Errors of the API edge itself (credentials, scopes, limits), raised by interceptors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(ApiError):
    """No valid credentials. The message says what was wrong, never the credential itself."""


class PermissionDenied(ApiError):
    def __init__(self, required_scope: str) -> None:
        super().__init__(f"this method needs the scope '{required_scope}'")
        self.required_scope = required_scope


class RateLimited(ApiError):
    def __init__(self, retry_after_seconds: float, limit: str) -> None:
        super().__init__(f"too many requests ({limit} rate limit); retry later")
        self.retry_after_seconds = retry_after_seconds
        self.limit = limit


@dataclass(frozen=True)
class ErrorSpec:
    """Everything a status carries: code, ErrorInfo reason and domain, message, optional details.

    `reason` is the name of the service's ErrorReason value without its ERROR_REASON_ prefix."""

    code: grpc.StatusCode
    reason: str
    domain: str
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[errors.FieldViolation] = field(default_factory=list)
    retry_after_seconds: float | None = None

    def to_status(self) -> grpc.Status:
        details = [
            error_details_pb2.ErrorInfo(
                reason=self.reason, domain=self.domain, metadata=self.metadata
            )
        ]
        if self.violations:
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in self.violations
                    ]
                )
            )
        if self.retry_after_seconds is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(self.retry_after_seconds * 1e9))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        packed = []
        for detail in details:
            any_detail = any_pb2.Any()
            any_detail.Pack(detail)
            packed.append(any_detail)
        code_value = getattr(code_pb2, self.code.name)
        return rpc_status.to_status(
            status_pb2.Status(code=code_value, message=self.message, details=packed)
        )


class FailedCall(Exception):
    """A call's end, already mapped to its status. The layers inside the interceptor stack raise
    it and the outermost ErrorInterceptor sends it, so every layer between (metrics, access log,
    span) has recorded the call before its client hears the answer."""

    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(spec.message)
        self.spec = spec


S = grpc.StatusCode

# Each mapped error type: its status code, its ErrorInfo reason and, for errors about one request
# field, that field (reported as a BadRequest violation carrying the error's message).
ErrorTable = Mapping[type[Exception], tuple[grpc.StatusCode, str, str | None]]

# The errors every service shares; every service's ErrorReason enum has these reasons.
SHARED_ERRORS: ErrorTable = {
    errors.ValidationFailed: (S.INVALID_ARGUMENT, "VALIDATION_FAILED", None),
    errors.InvalidPageToken: (S.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", "page_token"),
    errors.RequestIdReused: (S.INVALID_ARGUMENT, "REQUEST_ID_REUSED", "request_id"),
    ServiceUnavailable: (S.UNAVAILABLE, "SERVICE_UNAVAILABLE", None),
    DeadlineExceeded: (S.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", None),
    Unauthenticated: (S.UNAUTHENTICATED, "UNAUTHENTICATED", None),
    PermissionDenied: (S.PERMISSION_DENIED, "PERMISSION_DENIED", None),
    RateLimited: (S.RESOURCE_EXHAUSTED, "RATE_LIMITED", None),
}
# Reasons the edge gives without an exception type of its own.
MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
INTERNAL = "INTERNAL"
SHARED_REASONS = frozenset(
    {reason for _, reason, _ in SHARED_ERRORS.values()} | {MESSAGE_TOO_LARGE, INTERNAL}
)


def _shared_metadata(exc: Exception) -> dict[str, str]:
    match exc:
        case PermissionDenied():
            return {"required_scope": exc.required_scope}
        case RateLimited():
            return {"limit": exc.limit}
    return {}


@dataclass(frozen=True)
class ErrorCatalog:
    """A service's errors: its ErrorInfo domain, its own mapped domain errors (on top of the shared
    ones) and the ErrorInfo metadata they carry (which resource an error is about)."""

    domain: str
    service_errors: ErrorTable = field(default_factory=dict)
    resource_of: Callable[[Exception], dict[str, str]] = lambda exc: {}
    # Shared reasons the service can never give (no paging, no request ids), which its
    # ErrorReason enum may therefore leave out.
    unused_shared_reasons: frozenset[str] = frozenset()

    def reasons(self) -> frozenset[str]:
        """Every reason this catalog can give: the service's ErrorReason enum must hold them."""
        shared = SHARED_REASONS - self.unused_shared_reasons
        return shared | {reason for _, reason, _ in self.service_errors.values()}

    def spec(
        self, code: grpc.StatusCode, reason: str, message: str, metadata: dict[str, str]
    ) -> ErrorSpec:
        return ErrorSpec(code, reason, self.domain, message, metadata)

    @cached_property
    def _table(self) -> ErrorTable:
        """The shared errors and the service's, merged once."""
        return {**SHARED_ERRORS, **self.service_errors}

    def spec_for(self, exc: BaseException) -> ErrorSpec:
        """The status an exception becomes. Unknown exceptions become INTERNAL with no detail."""
        if isinstance(exc, FailedCall):
            return exc.spec
        table = self._table
        mapped = next((cls for cls in type(exc).__mro__ if cls in table), None)
        if mapped is None or not isinstance(exc, errors.DomainError | ApiError):
            if isinstance(exc, errors.DomainError):
                log.error("domain error without a status mapping: %r", exc)
            return ErrorSpec(S.INTERNAL, INTERNAL, self.domain, "internal error")
        code, reason, bad_field = table[mapped]
        if bad_field is not None:
            violations = [errors.FieldViolation(bad_field, exc.message)]
        elif isinstance(exc, errors.ValidationFailed):
            violations = exc.violations
        else:
            violations = []
        retry = (
            exc.retry_after_seconds if isinstance(exc, ServiceUnavailable | RateLimited) else None
        )
        metadata = {**_shared_metadata(exc), **self.resource_of(exc)}
        return ErrorSpec(code, reason, self.domain, exc.message, metadata, violations, retry)
