"""The one mapping from errors to google.rpc statuses, checked against user.proto's contract."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from user.v1 import user_pb2
from usersuite.platform.domain import errors as shared_errors
from usersuite.platform.grpc import errors as api_errors
from usersuite.platform.service import errors as service_errors
from usersuite.users.api.errors import USER_ERRORS
from usersuite.users.domain import errors

spec_for = USER_ERRORS.spec_for
ERROR_DOMAIN = USER_ERRORS.domain

USER_PROTO = Path(__file__).resolve().parents[2] / "proto" / "user" / "v1" / "user.proto"
PREFIX = "ERROR_REASON_"


def reason_name(number: int) -> str:
    return user_pb2.ErrorReason.Name(number).removeprefix(PREFIX)


# One instance of every domain error, keyed by the ErrorReason it must carry.
DOMAIN_ERRORS: dict[str, errors.DomainError] = {
    "VALIDATION_FAILED": errors.ValidationFailed(
        [errors.FieldViolation("user.email", "user.email is required")]
    ),
    "USER_NOT_FOUND": errors.UserNotFound("ada-lovelace"),
    "USER_ALREADY_EXISTS": errors.UserAlreadyExists("ada-lovelace"),
    "EMAIL_ALREADY_EXISTS": errors.EmailAlreadyExists("ada@example.com"),
    "ETAG_MISMATCH": errors.EtagMismatch("ada-lovelace"),
    "INVALID_PAGE_TOKEN": errors.InvalidPageToken("was altered"),
    "REQUEST_ID_REUSED": errors.RequestIdReused("6f1c2d3e-4b5a-4c6d-8e7f-001122334455"),
}
# The infrastructure conditions the service ports declare, keyed the same way.
SERVICE_ERRORS: dict[str, errors.DomainError] = {
    "SERVICE_UNAVAILABLE": service_errors.ServiceUnavailable("database unreachable", 2.5),
    "DEADLINE_EXCEEDED": service_errors.DeadlineExceeded(),
}
# The API edge's own errors, raised by interceptors, keyed the same way.
API_ERRORS: dict[str, api_errors.ApiError] = {
    "UNAUTHENTICATED": api_errors.Unauthenticated("the token has expired"),
    "PERMISSION_DENIED": api_errors.PermissionDenied("users.write"),
    "RATE_LIMITED": api_errors.RateLimited(0.75, "per-principal"),
}
MAPPED: dict[str, errors.DomainError | api_errors.ApiError] = {
    **DOMAIN_ERRORS,
    **SERVICE_ERRORS,
    **API_ERRORS,
}
RETRYABLE = {"SERVICE_UNAVAILABLE", "RATE_LIMITED"}


@dataclass
class Decoded:
    code: grpc.StatusCode
    message: str
    infos: list[error_details_pb2.ErrorInfo] = field(default_factory=list)
    bad_requests: list[error_details_pb2.BadRequest] = field(default_factory=list)
    retry_infos: list[error_details_pb2.RetryInfo] = field(default_factory=list)
    raw: bytes = b""


def decode(exc: BaseException) -> Decoded:
    """The grpc.Status that spec_for(exc) produces, with its packed details unpacked."""
    status = spec_for(exc).to_status()
    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert isinstance(raw, bytes)
    proto = status_pb2.Status.FromString(raw)
    assert proto.code == status.code.value[0]
    assert proto.message == status.details
    decoded = Decoded(status.code, status.details, raw=raw)
    for detail in proto.details:
        for kind, bucket in (
            (error_details_pb2.ErrorInfo, decoded.infos),
            (error_details_pb2.BadRequest, decoded.bad_requests),
            (error_details_pb2.RetryInfo, decoded.retry_infos),
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                bucket.append(message)
                break
        else:
            raise AssertionError(f"unexpected detail {detail.type_url}")
    return decoded


def documented_reasons() -> dict[str, str]:
    """ErrorReason value name (without prefix) -> the comment above it in user.proto."""
    text = USER_PROTO.read_text()
    body = re.search(r"enum ErrorReason \{(.*?)\n\}", text, re.DOTALL)
    assert body, "user.proto has no ErrorReason enum"
    reasons: dict[str, str] = {}
    comment: list[str] = []
    for line in body.group(1).splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            comment.append(stripped.removeprefix("//").strip())
        elif match := re.match(rf"{PREFIX}(\w+)\s*=\s*\d+;", stripped):
            reasons[match.group(1)] = " ".join(comment).strip()
            comment = []
        elif not stripped:
            comment = []
    return reasons


def documented_code(reason: str) -> grpc.StatusCode:
    """The status code written in parentheses in the reason's comment, e.g. (NOT_FOUND)."""
    codes = re.findall(r"\(([A-Z_]+)\)", documented_reasons()[reason])
    assert len(codes) == 1, f"{reason}: expected one documented status code, got {codes}"
    return grpc.StatusCode[codes[0]]


# --- the contract in user.proto ---------------------------------------------------------------


def test_the_proto_source_and_the_generated_enum_list_the_same_reasons() -> None:
    generated = {
        name.removeprefix(PREFIX) for name in user_pb2.ErrorReason.DESCRIPTOR.values_by_name
    }
    assert set(documented_reasons()) == generated


def test_every_error_reason_except_unspecified_is_documented() -> None:
    undocumented = [
        name
        for name, comment in documented_reasons().items()
        if name != "UNSPECIFIED" and not comment
    ]
    assert undocumented == []


def test_every_error_reason_except_unspecified_names_its_status_code() -> None:
    for name in documented_reasons():
        if name != "UNSPECIFIED":
            assert isinstance(documented_code(name), grpc.StatusCode)


def test_reason_names_are_unique() -> None:
    names = [reason_name(number) for number in user_pb2.ErrorReason.values()]
    assert len(names) == len(set(names))
    assert len(set(user_pb2.ErrorReason.values())) == len(names)


def test_every_reason_the_catalog_gives_is_in_the_enum() -> None:
    generated = {reason_name(number) for number in user_pb2.ErrorReason.values()}
    assert USER_ERRORS.reasons() <= generated
    assert generated - USER_ERRORS.reasons() == {"UNSPECIFIED"}


# --- spec_for and to_status -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "module", "instances"),
    [
        (errors.DomainError, shared_errors, DOMAIN_ERRORS),
        (errors.DomainError, errors, DOMAIN_ERRORS),
        (errors.DomainError, service_errors, SERVICE_ERRORS),
        (api_errors.ApiError, api_errors, API_ERRORS),
    ],
    ids=["shared-domain", "user-domain", "service", "api"],
)
def test_every_error_class_is_covered_here(
    base: type[Exception], module: ModuleType, instances: dict[str, Exception]
) -> None:
    declared = {c for c in base.__subclasses__() if c.__module__ == module.__name__}
    assert declared
    assert declared <= {type(e) for e in instances.values()}


@pytest.mark.parametrize("reason", sorted(MAPPED))
def test_each_error_maps_to_its_documented_code_and_reason(reason: str) -> None:
    exc = MAPPED[reason]

    status = decode(exc)

    assert status.code == documented_code(reason)
    assert len(status.infos) == 1
    assert status.infos[0].reason == reason
    assert status.infos[0].domain == ERROR_DOMAIN == "usersuite.user.v1"
    assert status.message == exc.message


@pytest.mark.parametrize("reason", ["USER_NOT_FOUND", "USER_ALREADY_EXISTS", "ETAG_MISMATCH"])
def test_errors_about_one_user_name_it_in_error_info_metadata(reason: str) -> None:
    assert dict(decode(DOMAIN_ERRORS[reason]).infos[0].metadata) == {"name": "users/ada-lovelace"}


def test_validation_failed_lists_every_violation_in_bad_request() -> None:
    exc = errors.ValidationFailed(
        [
            errors.FieldViolation("user.display_name", "user.display_name is required"),
            errors.FieldViolation("update_mask.paths[1]", "'etag' is output only"),
        ]
    )

    status = decode(exc)

    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(status.bad_requests) == 1
    assert [(v.field, v.description) for v in status.bad_requests[0].field_violations] == [
        ("user.display_name", "user.display_name is required"),
        ("update_mask.paths[1]", "'etag' is output only"),
    ]
    assert "user.display_name" in status.message
    assert status.retry_infos == []


@pytest.mark.parametrize(
    ("reason", "field_name"),
    [
        ("INVALID_PAGE_TOKEN", "page_token"),
        ("REQUEST_ID_REUSED", "request_id"),
        ("EMAIL_ALREADY_EXISTS", "user.email"),
    ],
)
def test_errors_about_one_request_field_name_it_in_bad_request(
    reason: str, field_name: str
) -> None:
    status = decode(DOMAIN_ERRORS[reason])

    assert [v.field for v in status.bad_requests[0].field_violations] == [field_name]


def test_email_already_exists_does_not_reveal_the_address() -> None:
    status = decode(errors.EmailAlreadyExists("private.person@example.com"))

    assert b"private.person" not in status.raw
    assert "private.person" not in status.message


def test_service_unavailable_carries_retry_info() -> None:
    status = decode(
        service_errors.ServiceUnavailable("database unreachable", retry_after_seconds=2.5)
    )

    assert status.code == grpc.StatusCode.UNAVAILABLE
    assert len(status.retry_infos) == 1
    assert status.retry_infos[0].retry_delay.ToNanoseconds() == 2_500_000_000


def test_rate_limited_carries_retry_info() -> None:
    status = decode(api_errors.RateLimited(0.75, "per-principal"))

    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(status.retry_infos) == 1
    assert status.retry_infos[0].retry_delay.ToNanoseconds() == 750_000_000


def test_retryable_reasons_are_the_ones_the_proto_says_carry_retry_info() -> None:
    documented = {name for name, comment in documented_reasons().items() if "RetryInfo" in comment}
    assert documented == RETRYABLE


@pytest.mark.parametrize("reason", sorted(set(MAPPED) - RETRYABLE))
def test_non_retryable_errors_carry_no_retry_info(reason: str) -> None:
    assert decode(MAPPED[reason]).retry_infos == []


def test_permission_denied_names_the_required_scope() -> None:
    status = decode(api_errors.PermissionDenied("users.write"))

    assert status.infos[0].metadata["required_scope"] == "users.write"


class Unmapped(errors.DomainError):
    """A domain error somebody forgot to map."""


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("connection to postgresql://admin:hunter2@db failed"),
        KeyError("hunter2"),
        errors.InvalidValue("hunter2 is not valid"),
        Unmapped("hunter2 leaked"),
    ],
    ids=["runtime-error", "key-error", "invalid-value", "unmapped-domain-error"],
)
def test_unexpected_exceptions_become_internal_without_detail(exc: BaseException) -> None:
    status = decode(exc)

    assert status.code == grpc.StatusCode.INTERNAL
    assert status.message == "internal error"
    assert [info.reason for info in status.infos] == ["INTERNAL"]
    assert status.infos[0].domain == ERROR_DOMAIN
    assert dict(status.infos[0].metadata) == {}
    assert status.bad_requests == []
    assert status.retry_infos == []
    assert b"hunter2" not in status.raw
