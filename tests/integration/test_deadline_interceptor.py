"""The deadline interceptor on a real grpc.aio server: a call whose client deadline passes is
cancelled by grpc (no timer of ours) and counted as DEADLINE_EXCEEDED; a call above the cap or
without a deadline is cut by the server's own timer, with its ErrorInfo."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from tests.support.status import details_of
from usersuite.platform.config.groups import LimitSettings
from usersuite.platform.grpc.interceptors.deadline import DeadlineInterceptor
from usersuite.platform.grpc.interceptors.errors import ErrorInterceptor
from usersuite.platform.grpc.interceptors.fused import fuse
from usersuite.platform.grpc.interceptors.observability import GrpcMetrics, ObservabilityInterceptor
from usersuite.platform.service import request_context
from usersuite.users.api.errors import USER_ERRORS

METHOD = "/test.v1.Waits/Forever"


@dataclass
class Waiter:
    """A handler that waits for an event the test never sets, and notes how it ended."""

    budgets: list[float | None] = field(default_factory=list)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, request: bytes, context: Any) -> bytes:
        deadline = request_context.deadline.get()
        self.budgets.append(None if deadline is None else deadline - time.monotonic())
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return request


@dataclass
class Served:
    channel: grpc.aio.Channel
    waiter: Waiter
    registry: CollectorRegistry

    def handled(self, code: str) -> float | None:
        labels = {"grpc_type": "unary", "grpc_service": "test.v1.Waits"}
        labels |= {"grpc_method": "Forever", "grpc_code": code}
        return self.registry.get_sample_value("grpc_server_handled_total", labels)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    registry = CollectorRegistry()
    limits = LimitSettings(default_deadline_seconds=0.3, max_deadline_seconds=0.3)
    stack = [
        ErrorInterceptor(USER_ERRORS),
        ObservabilityInterceptor(
            access_log=False, metrics=GrpcMetrics(registry), errors=USER_ERRORS
        ),
        DeadlineInterceptor(limits, USER_ERRORS),
        ErrorInterceptor(USER_ERRORS, sends_status=False),
    ]
    server = grpc.aio.server(interceptors=fuse(stack))
    waiter = Waiter()
    handler = grpc.unary_unary_rpc_method_handler(waiter)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.v1.Waits", {"Forever": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Served(channel, waiter, registry)
    finally:
        await server.stop(0)


async def test_a_call_past_its_client_deadline_is_cancelled_and_counted_as_deadline_exceeded(
    served: Served,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await served.channel.unary_unary(METHOD, None, None)(b"x", timeout=0.2)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(served.waiter.cancelled.wait(), timeout=10)
    # The budget the call ran under was the client's own 0.2 s (as grpc carried it over, a
    # hair either way), not the 0.3 s cap.
    [budget] = served.waiter.budgets
    assert budget is not None
    assert budget < 0.25
    for _ in range(1000):  # the metrics are recorded once the handler's task unwinds
        if served.handled("DEADLINE_EXCEEDED") is not None:
            break
        await asyncio.sleep(0.01)
    assert served.handled("DEADLINE_EXCEEDED") == 1
    assert served.handled("CANCELLED") is None


@pytest.mark.parametrize("client_timeout", [None, 60.0])
async def test_a_call_without_a_deadline_or_above_the_cap_is_cut_by_the_server(
    served: Served, client_timeout: float | None
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await served.channel.unary_unary(METHOD, None, None)(b"x", timeout=client_timeout)
    details = details_of(caught.value)
    assert (details.code, details.reason) == (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "DEADLINE_EXCEEDED",
    )
    [budget] = served.waiter.budgets
    assert budget is not None
    assert budget <= 0.3
    assert served.waiter.cancelled.is_set()
    assert served.handled("DEADLINE_EXCEEDED") == 1
