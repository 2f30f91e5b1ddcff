"""Reads google.rpc details out of a failed call, for assertions."""

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2


@dataclass
class Details:
    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: dict[str, str] = field(default_factory=dict)
    retry_delay_seconds: float | None = None


def details_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> Details:
    """The status code, ErrorInfo, BadRequest and RetryInfo of a failed call."""
    code = error.code()  # type: ignore[attr-defined]
    raw = [v for k, v in (error.trailing_metadata() or ()) if k == "grpc-status-details-bin"]  # type: ignore[attr-defined]
    if not raw:
        return Details(code=code, message=error.details())  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(raw[0])
    assert status.code == code.value[0], "status proto code differs from the call's code"
    result = Details(code=code, message=status.message)
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            result.reason, result.domain, result.metadata = (
                info.reason,
                info.domain,
                dict(info.metadata),
            )
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            result.violations = {v.field: v.description for v in bad.field_violations}
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            result.retry_delay_seconds = retry.retry_delay.ToNanoseconds() / 1e9
    return result
