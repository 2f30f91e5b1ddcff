"""Orders' error catalog against order.proto's ErrorReason, and the statuses its errors become."""

import grpc
import pytest

from order.v1 import order_pb2
from usersuite.orders.api.errors import ORDER_ERRORS
from usersuite.orders.domain import errors

PREFIX = "ERROR_REASON_"
PROTO_REASONS = {
    name.removeprefix(PREFIX)
    for name in order_pb2.ErrorReason.keys()  # noqa: SIM118 - an enum wrapper, not a dict
    if name != "ERROR_REASON_UNSPECIFIED"
}


def test_every_reason_the_catalog_gives_is_in_the_proto_enum() -> None:
    assert ORDER_ERRORS.reasons() <= PROTO_REASONS
    assert ORDER_ERRORS.domain == "usersuite.order.v1"


@pytest.mark.parametrize(
    ("error", "code", "reason", "metadata"),
    [
        (errors.OrderNotFound("o-1x"), grpc.StatusCode.NOT_FOUND, "ORDER_NOT_FOUND",
         {"name": "orders/o-1x"}),
        (errors.OrderAlreadyExists("o-1x"), grpc.StatusCode.ALREADY_EXISTS,
         "ORDER_ALREADY_EXISTS", {"name": "orders/o-1x"}),
        (errors.EtagMismatch("o-1x"), grpc.StatusCode.ABORTED, "ETAG_MISMATCH",
         {"name": "orders/o-1x"}),
        (errors.OrderNotCancellable("o-1x", "PENDING"), grpc.StatusCode.FAILED_PRECONDITION,
         "ORDER_NOT_CANCELLABLE", {"name": "orders/o-1x", "state": "STATE_PENDING"}),
        (errors.ValidationFailed([errors.FieldViolation("order.user", "bad")]),
         grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION_FAILED", {}),
    ],
)  # fmt: skip
def test_domain_errors_map_to_their_status(
    error: Exception, code: grpc.StatusCode, reason: str, metadata: dict[str, str]
) -> None:
    spec = ORDER_ERRORS.spec_for(error)
    assert (spec.code, spec.reason, spec.metadata) == (code, reason, metadata)


def test_orders_errors_share_the_platform_base() -> None:
    from usersuite.platform.domain.errors import DomainError

    assert issubclass(errors.OrderNotPending, DomainError)
