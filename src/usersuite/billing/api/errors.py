"""The billing service's errors: its ErrorInfo domain and how its domain errors map to statuses."""

import grpc

from usersuite.billing.domain import errors
from usersuite.platform.grpc.errors import ErrorCatalog

S = grpc.StatusCode


def _resource_of(exc: Exception) -> dict[str, str]:
    match exc:
        case (
            errors.AccountNotFound()
            | errors.AccountClosed()
            | errors.EtagMismatch()
            | errors.CreditLimitBelowReserved()
        ):
            return {"name": f"accounts/{exc.user_id}"}
    return {}


BILLING_ERRORS = ErrorCatalog(
    domain="usersuite.billing.v1",
    service_errors={
        errors.AccountNotFound: (S.NOT_FOUND, "ACCOUNT_NOT_FOUND", None),
        errors.EtagMismatch: (S.ABORTED, "ETAG_MISMATCH", None),
        errors.CreditLimitBelowReserved: (
            S.FAILED_PRECONDITION,
            "CREDIT_LIMIT_BELOW_RESERVED",
            None,
        ),
        errors.AccountClosed: (S.FAILED_PRECONDITION, "ACCOUNT_CLOSED", None),
    },
    resource_of=_resource_of,
    # Billing lists nothing and takes no request ids: its contract has no such reasons.
    unused_shared_reasons=frozenset({"INVALID_PAGE_TOKEN", "REQUEST_ID_REUSED"}),
)
