"""The order service's errors: its ErrorInfo domain and how its domain errors map to statuses."""

import grpc

from usersuite.orders.domain import errors
from usersuite.platform.grpc.errors import ErrorCatalog

S = grpc.StatusCode


def _details_of(exc: Exception) -> dict[str, str]:
    match exc:
        case errors.OrderNotCancellable():
            return {"name": f"orders/{exc.order_id}", "state": f"STATE_{exc.state}"}
        case errors.OrderNotFound() | errors.OrderAlreadyExists() | errors.EtagMismatch():
            return {"name": f"orders/{exc.order_id}"}
    return {}


ORDER_ERRORS = ErrorCatalog(
    domain="usersuite.order.v1",
    service_errors={
        errors.OrderNotFound: (S.NOT_FOUND, "ORDER_NOT_FOUND", None),
        errors.OrderAlreadyExists: (S.ALREADY_EXISTS, "ORDER_ALREADY_EXISTS", None),
        errors.EtagMismatch: (S.ABORTED, "ETAG_MISMATCH", None),
        errors.OrderNotCancellable: (S.FAILED_PRECONDITION, "ORDER_NOT_CANCELLABLE", None),
    },
    resource_of=_details_of,
)
