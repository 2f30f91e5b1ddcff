"""Reads google.rpc details out of a failed call, for assertions."""

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import cast

import grpc
import pytest
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


def details_of(error: grpc.RpcError) -> Details:
    """The status code, ErrorInfo, BadRequest and RetryInfo of a failed call."""
    # Every error grpc raises for a call, sync or asyncio, is also the call (grpc.Call).
    call = cast(grpc.Call, error)
    code = call.code()
    trailers = cast(Iterable[tuple[str, bytes]], call.trailing_metadata() or ())
    raw = [value for key, value in trailers if key == "grpc-status-details-bin"]
    if not raw:
        return Details(code=code, message=call.details() or "")
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


async def failure(call: Awaitable[object]) -> Details:
    """The details of `call`, which must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return details_of(caught.value)
