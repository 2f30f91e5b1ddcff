"""Reads google.rpc details out of a failed call, for assertions."""

from collections.abc import Awaitable, Iterable
from dataclasses import asdict
from typing import cast

import grpc
import pytest
from google.rpc import status_pb2

from usersuite.client.errors import STATUS_DETAILS_KEY, UserServiceError, error_from


class Details(UserServiceError):
    """The SDK's decoded error, with the RetryInfo delay under the name the tests read."""

    @property
    def retry_delay_seconds(self) -> float | None:
        return self.retry_delay


def details_of(error: grpc.RpcError) -> Details:
    """The status code, ErrorInfo, BadRequest and RetryInfo of a failed call, decoded by the
    Python SDK's own reader of `grpc-status-details-bin`."""
    # Every error grpc raises for a call, sync or asyncio, is also the call (grpc.Call).
    call = cast(grpc.Call, error)
    code = call.code()
    trailers = cast(Iterable[tuple[str, str | bytes]], call.trailing_metadata() or ())
    raw = [value for key, value in trailers if key == STATUS_DETAILS_KEY]
    if raw:
        status = status_pb2.Status.FromString(cast(bytes, raw[0]))
        assert status.code == code.value[0], "status proto code differs from the call's code"
    decoded = error_from(code, call.details() or "", trailers)
    assert decoded.undecodable_details == 0, "the server sent details that do not decode"
    return Details(**asdict(decoded))


async def failure(call: Awaitable[object]) -> Details:
    """The details of `call`, which must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return details_of(caught.value)
