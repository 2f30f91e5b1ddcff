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


def _violation(field: str, exc: errors.DomainError) -> list[errors.FieldViolation]:
    return [errors.FieldViolation(field, exc.message)]


def spec_for(exc: BaseException) -> ErrorSpec:
    """The status an exception becomes. Unknown exceptions become INTERNAL with no detail."""
    match exc:
        case errors.ValidationFailed():
            reason = R.ERROR_REASON_VALIDATION_FAILED
            return ErrorSpec(S.INVALID_ARGUMENT, reason, exc.message, violations=exc.violations)
        case errors.UserNotFound():
            reason = R.ERROR_REASON_USER_NOT_FOUND
            return ErrorSpec(S.NOT_FOUND, reason, exc.message, {"name": f"users/{exc.user_id}"})
        case errors.UserAlreadyExists():
            reason = R.ERROR_REASON_USER_ALREADY_EXISTS
            name = {"name": f"users/{exc.user_id}"}
            return ErrorSpec(S.ALREADY_EXISTS, reason, exc.message, name)
        case errors.EmailAlreadyExists():
            reason = R.ERROR_REASON_EMAIL_ALREADY_EXISTS
            violations = _violation("user.email", exc)
            return ErrorSpec(S.ALREADY_EXISTS, reason, exc.message, violations=violations)
        case errors.EtagMismatch():
            reason = R.ERROR_REASON_ETAG_MISMATCH
            return ErrorSpec(S.ABORTED, reason, exc.message, {"name": f"users/{exc.user_id}"})
        case errors.InvalidPageToken():
            reason = R.ERROR_REASON_INVALID_PAGE_TOKEN
            violations = _violation("page_token", exc)
            return ErrorSpec(S.INVALID_ARGUMENT, reason, exc.message, violations=violations)
        case errors.RequestIdReused():
            reason = R.ERROR_REASON_REQUEST_ID_REUSED
            violations = _violation("request_id", exc)
            return ErrorSpec(S.INVALID_ARGUMENT, reason, exc.message, violations=violations)
        case ServiceUnavailable():
            reason = R.ERROR_REASON_SERVICE_UNAVAILABLE
            retry = exc.retry_after_seconds
            return ErrorSpec(S.UNAVAILABLE, reason, exc.message, retry_after_seconds=retry)
        case DeadlineExceeded():
            reason = R.ERROR_REASON_DEADLINE_EXCEEDED
            return ErrorSpec(S.DEADLINE_EXCEEDED, reason, exc.message)
        case Unauthenticated():
            reason = R.ERROR_REASON_UNAUTHENTICATED
            return ErrorSpec(S.UNAUTHENTICATED, reason, exc.message)
        case PermissionDenied():
            reason = R.ERROR_REASON_PERMISSION_DENIED
            scope = {"required_scope": exc.required_scope}
            return ErrorSpec(S.PERMISSION_DENIED, reason, exc.message, scope)
        case RateLimited():
            reason = R.ERROR_REASON_RATE_LIMITED
            retry, limit = exc.retry_after_seconds, {"limit": exc.limit}
            return ErrorSpec(
                S.RESOURCE_EXHAUSTED, reason, exc.message, limit, retry_after_seconds=retry
            )
        case errors.DomainError():
            log.error("domain error without a status mapping: %r", exc)
    return ErrorSpec(S.INTERNAL, R.ERROR_REASON_INTERNAL, "internal error")
