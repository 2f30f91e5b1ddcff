"""The Python client SDK: typed errors, circuit breaker, token supply and trace propagation."""

import socket
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.support.clock import ManualClock
from tests.support.handlers import RawGenericHandler, RawMethodHandler
from tests.support.processes import UsersuiteProcess
from user.v1 import user_pb2
from usersuite.client import (
    CircuitBreaker,
    CircuitOpen,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
    UserClient,
)
from usersuite.client.breaker import State


def test_breaker_opens_after_consecutive_failures_and_probes_once_half_open() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record(grpc.StatusCode.UNAVAILABLE)
    breaker.before_call()
    breaker.record(grpc.StatusCode.DEADLINE_EXCEEDED)
    assert breaker.state is State.OPEN
    with pytest.raises(CircuitOpen) as refused:
        breaker.before_call()
    assert refused.value.retry_delay == 10
    clock.now = 10
    # `state` is a property that moves with the clock; mypy keeps the OPEN it narrowed above.
    assert breaker.state is State.HALF_OPEN  # type: ignore[comparison-overlap]
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one probe at a time
    breaker.record(grpc.StatusCode.UNAVAILABLE)
    assert breaker.state is State.OPEN, "a failed probe opens the circuit again"
    clock.now = 20
    breaker.before_call()
    breaker.record(grpc.StatusCode.OK)
    assert breaker.state is State.CLOSED


def test_breaker_counts_only_consecutive_unavailable_and_deadline() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=ManualClock())
    for code in [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.NOT_FOUND,  # an answer from a healthy server resets the count
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INVALID_ARGUMENT,
    ]:
        breaker.before_call()
        breaker.record(code)
    assert breaker.state is State.CLOSED


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_client_opens_its_circuit_when_the_server_is_unreachable() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=60)
    async with UserClient(f"127.0.0.1:{closed_port()}", breaker=breaker) as client:
        for _ in range(2):
            with pytest.raises(Unavailable):
                await client.get_user("users/ada", deadline=5)
        with pytest.raises(CircuitOpen):
            await client.get_user("users/ada", deadline=5)


async def test_errors_carry_the_reason_and_the_field_violations(
    interop_server: UsersuiteProcess, token: str
) -> None:
    async with UserClient(interop_server.target, token=token) as client:
        with pytest.raises(InvalidArgument) as invalid:
            await client.create_user("Ada", "not-an-email")
        assert invalid.value.reason == "VALIDATION_FAILED"
        assert invalid.value.domain == "usersuite.user.v1"
        assert set(invalid.value.violations) == {"user.email"}
        with pytest.raises(NotFound) as missing:
            await client.get_user("users/nobody-here")
        assert missing.value.reason == "USER_NOT_FOUND"
    async with UserClient(interop_server.target) as anonymous:
        with pytest.raises(Unauthenticated) as refused:
            await anonymous.get_user("users/nobody-here")
        assert refused.value.reason == "UNAUTHENTICATED"


class Recorder(RawGenericHandler):
    """A server that answers GetUser and remembers each call's metadata."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    def service(self, details: grpc.HandlerCallDetails) -> RawMethodHandler:
        async def get_user(request: bytes, context: Any) -> bytes:
            self.seen.append(dict(context.invocation_metadata()))
            return user_pb2.User(name="users/ada").SerializeToString()

        return grpc.unary_unary_rpc_method_handler(get_user)


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, int]]:
    handler = Recorder()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield handler, port
    await server.stop(0)


async def test_each_call_asks_the_token_supply_and_carries_the_trace_context(
    recorder: tuple[Recorder, int],
) -> None:
    handler, port = recorder
    issued = iter(["first", "refreshed"])

    async def refresh() -> str:
        return next(issued)

    tracer = TracerProvider().get_tracer("test")
    async with UserClient(f"127.0.0.1:{port}", token=refresh) as client:
        with tracer.start_as_current_span("caller") as span:
            await client.get_user("users/ada")
            await client.get_user("users/ada")
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert [seen["authorization"] for seen in handler.seen] == [
        "Bearer first",
        "Bearer refreshed",
    ]
    assert all(trace_id in seen["traceparent"] for seen in handler.seen), handler.seen
