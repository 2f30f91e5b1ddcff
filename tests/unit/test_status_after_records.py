"""A failed call's status is sent last: the layers between (metrics, access log) have recorded
the call before its client can hear the answer and read /metrics, whichever layer refused it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from tests.support.settings import make_settings
from usersuite.platform.grpc.interceptors.base import UnaryBehavior
from usersuite.platform.grpc.interceptors.chain import build_interceptors
from usersuite.platform.grpc.interceptors.observability import GrpcMetrics
from usersuite.users.api.errors import USER_ERRORS
from usersuite.users.domain.errors import UserNotFound

METHOD = "/user.v1.UserService/GetUser"
LABELS = {"grpc_type": "unary", "grpc_service": "user.v1.UserService", "grpc_method": "GetUser"}
MAX_BYTES = 1024


class Context:
    """A server call's context that notes, when the status is sent, what the metrics held."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._code: grpc.StatusCode | None = None
        self.sent: list[tuple[grpc.StatusCode, float | None]] = []

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def time_remaining(self) -> None:
        return None  # no client deadline: the default one applies

    def peer(self) -> str:
        return "ipv4:127.0.0.1:40000"

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        pass

    def code(self) -> grpc.StatusCode | None:
        return self._code

    async def abort(self, code: grpc.StatusCode, details: str, trailing: Any) -> None:
        labels = {**LABELS, "grpc_code": code.name}
        counted = self._registry.get_sample_value("grpc_server_handled_total", labels)
        self.sent.append((code, counted))
        raise grpc.aio.AbortError("aborted")


async def not_found(request: Any, context: Any) -> Any:
    raise UserNotFound("nobody")


async def broken(request: Any, context: Any) -> Any:
    raise RuntimeError("a bug")


async def forever(request: Any, context: Any) -> Any:
    await asyncio.Event().wait()


async def answers(request: Any, context: Any) -> Any:
    return request


CASES = [
    pytest.param(not_found, b"x", grpc.StatusCode.NOT_FOUND, id="servicer-error"),
    pytest.param(broken, b"x", grpc.StatusCode.INTERNAL, id="unexpected-error"),
    pytest.param(forever, b"x", grpc.StatusCode.DEADLINE_EXCEEDED, id="deadline-timer"),
    pytest.param(answers, b"x" * (MAX_BYTES + 1), grpc.StatusCode.RESOURCE_EXHAUSTED, id="guard"),
]


def composed(
    registry: CollectorRegistry, servicer: Callable[..., Any], **limits: Any
) -> Callable[[bytes, Context], Awaitable[Any]]:
    """The server's own stack around `servicer`, as the server composes it for a method."""
    settings = make_settings(
        "sqlite+aiosqlite://", limits={"max_message_bytes": MAX_BYTES, **limits}
    )
    stack = build_interceptors(
        settings,
        authenticator=None,
        tracer_provider=None,
        metrics=GrpcMetrics(registry),
        errors=USER_ERRORS,
    )
    behavior: UnaryBehavior = servicer
    deserialize: Callable[[bytes], Any] = bytes
    for layer in reversed(stack):
        behavior = layer.wrap(METHOD, behavior)
        deserialize = layer.decode(METHOD, deserialize)
    served = behavior

    def call(raw: bytes, context: Context) -> Awaitable[Any]:
        fake: Any = context  # what the layers use of a grpc context
        return served(deserialize(raw), fake)

    return call


@pytest.mark.parametrize(("servicer", "raw", "code"), CASES)
async def test_the_status_is_sent_once_the_call_is_counted(
    servicer: Callable[..., Any], raw: bytes, code: grpc.StatusCode
) -> None:
    registry = CollectorRegistry()
    call = composed(registry, servicer, default_deadline_seconds=0.05)
    context = Context(registry)

    with pytest.raises(grpc.aio.AbortError):
        await call(raw, context)

    # Sent once, by the outermost layer, after the metrics layer counted it with its code.
    assert context.sent == [(code, 1.0)]


async def test_a_rate_limited_call_is_counted_before_its_status_is_sent() -> None:
    registry = CollectorRegistry()
    call = composed(registry, answers, principal_burst=1)
    assert await call(b"x", Context(registry)) == b"x"
    refused = Context(registry)

    with pytest.raises(grpc.aio.AbortError):
        await call(b"x", refused)

    assert refused.sent == [(grpc.StatusCode.RESOURCE_EXHAUSTED, 1.0)]
