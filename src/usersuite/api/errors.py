"""The single mapping from errors to gRPC statuses with google.rpc details (AIP-193)."""

import logging
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from user.v1 import user_pb2
from usersuite.domain import errors
from usersuite.service.errors import DeadlineExceeded, ServiceUnavailable

ERROR_DOMAIN = "usersuite.user.v1"
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


def reason_name(reason: int) -> str:
    """The ErrorInfo reason: the proto enum value's name without its ERROR_REASON_ prefix."""
    return user_pb2.ErrorReason.Name(reason).removeprefix("ERROR_REASON_")


@dataclass(frozen=True)
class ErrorSpec:
    """Everything a status carries: code, reason, message and the optional details."""

    code: grpc.StatusCode
    reason: int
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[errors.FieldViolation] = field(default_factory=list)
    retry_after_seconds: float | None = None

    def to_status(self) -> grpc.Status:
        details = [
            error_details_pb2.ErrorInfo(
                reason=reason_name(self.reason), domain=ERROR_DOMAIN, metadata=self.metadata
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


R = user_pb2.ErrorReason
S = grpc.StatusCode


# Each mapped error type: its status code, its ErrorInfo reason and, for errors about one request
# field, that field (reported as a BadRequest violation carrying the error's message).
_MAPPED: dict[type[Exception], tuple[grpc.StatusCode, int, str | None]] = {
    errors.ValidationFailed: (S.INVALID_ARGUMENT, R.ERROR_REASON_VALIDATION_FAILED, None),
    errors.UserNotFound: (S.NOT_FOUND, R.ERROR_REASON_USER_NOT_FOUND, None),
    errors.UserAlreadyExists: (S.ALREADY_EXISTS, R.ERROR_REASON_USER_ALREADY_EXISTS, None),
    errors.EmailAlreadyExists: (
        S.ALREADY_EXISTS,
        R.ERROR_REASON_EMAIL_ALREADY_EXISTS,
        "user.email",
    ),
    errors.EtagMismatch: (S.ABORTED, R.ERROR_REASON_ETAG_MISMATCH, None),
    errors.InvalidPageToken: (S.INVALID_ARGUMENT, R.ERROR_REASON_INVALID_PAGE_TOKEN, "page_token"),
    errors.RequestIdReused: (S.INVALID_ARGUMENT, R.ERROR_REASON_REQUEST_ID_REUSED, "request_id"),
    ServiceUnavailable: (S.UNAVAILABLE, R.ERROR_REASON_SERVICE_UNAVAILABLE, None),
    DeadlineExceeded: (S.DEADLINE_EXCEEDED, R.ERROR_REASON_DEADLINE_EXCEEDED, None),
    Unauthenticated: (S.UNAUTHENTICATED, R.ERROR_REASON_UNAUTHENTICATED, None),
    PermissionDenied: (S.PERMISSION_DENIED, R.ERROR_REASON_PERMISSION_DENIED, None),
    RateLimited: (S.RESOURCE_EXHAUSTED, R.ERROR_REASON_RATE_LIMITED, None),
}


def _metadata(exc: Exception) -> dict[str, str]:
    """The ErrorInfo metadata: which resource, scope or limit the error is about."""
    match exc:
        case errors.UserNotFound() | errors.UserAlreadyExists() | errors.EtagMismatch():
            return {"name": f"users/{exc.user_id}"}
        case PermissionDenied():
            return {"required_scope": exc.required_scope}
        case RateLimited():
            return {"limit": exc.limit}
    return {}


def spec_for(exc: BaseException) -> ErrorSpec:
    """The status an exception becomes. Unknown exceptions become INTERNAL with no detail."""
    mapped = next((cls for cls in type(exc).__mro__ if cls in _MAPPED), None)
    if mapped is None or not isinstance(exc, errors.DomainError | ApiError):
        if isinstance(exc, errors.DomainError):
            log.error("domain error without a status mapping: %r", exc)
        return ErrorSpec(S.INTERNAL, R.ERROR_REASON_INTERNAL, "internal error")
    code, reason, bad_field = _MAPPED[mapped]
    if bad_field is not None:
        violations = [errors.FieldViolation(bad_field, exc.message)]
    elif isinstance(exc, errors.ValidationFailed):
        violations = exc.violations
    else:
        violations = []
    retry = exc.retry_after_seconds if isinstance(exc, ServiceUnavailable | RateLimited) else None
    return ErrorSpec(code, reason, exc.message, _metadata(exc), violations, retry)
