"""The user service's errors: its ErrorInfo domain and how its domain errors map to statuses."""

import grpc

from usersuite.platform.grpc.errors import ErrorCatalog
from usersuite.users.domain import errors

S = grpc.StatusCode


def _resource_of(exc: Exception) -> dict[str, str]:
    match exc:
        case errors.UserNotFound() | errors.UserAlreadyExists() | errors.EtagMismatch():
            return {"name": f"users/{exc.user_id}"}
    return {}


USER_ERRORS = ErrorCatalog(
    domain="usersuite.user.v1",
    service_errors={
        errors.UserNotFound: (S.NOT_FOUND, "USER_NOT_FOUND", None),
        errors.UserAlreadyExists: (S.ALREADY_EXISTS, "USER_ALREADY_EXISTS", None),
        errors.EmailAlreadyExists: (S.ALREADY_EXISTS, "EMAIL_ALREADY_EXISTS", "user.email"),
        errors.EtagMismatch: (S.ABORTED, "ETAG_MISMATCH", None),
    },
    resource_of=_resource_of,
)
