"""Fused interceptors compose each concern as the grpc chain one by one would, once per method."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import grpc
import pytest

from usersuite.platform.grpc.interceptors.base import (
    Context,
    Continuation,
    Deserializer,
    Handler,
    UnaryBehavior,
    UnaryInterceptor,
)
from usersuite.platform.grpc.interceptors.fused import FusedInterceptor, fuse


class Recording(UnaryInterceptor):
    """Marks the request on decode and the trail on wrap, so order is visible in the answer."""

    def __init__(self, name: str, trail: list[str], exempt: tuple[str, ...] = ()) -> None:
        self.name = name
        self.trail = trail
        self.exempt = exempt
        self.wrapped = 0

    def decode(self, method: str, deserialize: Deserializer) -> Deserializer:
        return lambda raw: f"{deserialize(raw)}>{self.name}"

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        self.wrapped += 1

        async def wrapped(request: Any, context: Context) -> Any:
            self.trail.append(f"in {self.name}")
            try:
                return await behavior(request, context)
            finally:
                self.trail.append(f"out {self.name}")

        return wrapped


class Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


async def servicer(request: Any, context: Any) -> Any:
    return f"answer to {request}"


HANDLER: Handler = grpc.unary_unary_rpc_method_handler(
    servicer, request_deserializer=lambda raw: raw.decode()
)


def found(handler: Handler | None) -> Continuation:
    async def continuation(_: grpc.HandlerCallDetails) -> Handler | None:
        return handler

    return continuation


async def one_by_one(stack: Sequence[UnaryInterceptor], method: str) -> Handler | None:
    """What grpc's chain of separate interceptors makes of the handler."""
    continuation = found(HANDLER)
    for interceptor in reversed(stack):

        def step(inner: Continuation, member: UnaryInterceptor) -> Continuation:
            async def call(details: grpc.HandlerCallDetails) -> Handler | None:
                return await member.intercept_service(inner, details)

            return call

        continuation = step(continuation, interceptor)
    return await continuation(Details(method))  # type: ignore[arg-type]


async def run(handler: Handler | None, request: bytes) -> Any:
    assert handler is not None
    assert handler.unary_unary is not None
    assert handler.request_deserializer is not None
    return await handler.unary_unary(handler.request_deserializer(request), None)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["/user.v1.UserService/GetUser", "/grpc.health.v1/Check"])
async def test_fused_composes_like_the_chain_with_the_exempt_left_out(method: str) -> None:
    trail: list[str] = []
    stack = [
        Recording("outer", trail),
        Recording("probe-blind", trail, exempt=("/grpc.health.",)),
        Recording("inner", trail),
    ]
    expected = await run(await one_by_one(stack, method), b"req")
    expected_trail, trail[:] = list(trail), []

    fused = FusedInterceptor(stack)
    answer = await run(await fused.intercept_service(found(HANDLER), Details(method)), b"req")  # type: ignore[arg-type]

    assert answer == expected
    assert trail == expected_trail
    if method.startswith("/grpc.health."):
        assert "in probe-blind" not in trail
    assert trail[0] == "in outer"


async def test_a_method_is_composed_once_while_its_handler_stays_the_same() -> None:
    trail: list[str] = []
    member = Recording("only", trail)
    fused = FusedInterceptor([member])
    details = Details("/user.v1.UserService/GetUser")
    first = await fused.intercept_service(found(HANDLER), details)  # type: ignore[arg-type]
    again = await fused.intercept_service(found(HANDLER), details)  # type: ignore[arg-type]
    assert first is again
    assert member.wrapped == 1
    other: Handler = grpc.unary_unary_rpc_method_handler(servicer)
    assert await fused.intercept_service(found(other), details) is not first  # type: ignore[arg-type]
    assert member.wrapped == 2


async def test_unknown_methods_stay_unknown() -> None:
    fused = FusedInterceptor([Recording("only", [])])
    assert await fused.intercept_service(found(None), Details("/x.Y/Z")) is None  # type: ignore[arg-type]


def test_fuse_groups_neighbouring_concerns_and_keeps_foreign_interceptors_in_place() -> None:
    trail: list[str] = []
    a, b, c = Recording("a", trail), Recording("b", trail), Recording("c", trail)
    foreign = object()
    fused = fuse([a, foreign, b, c])  # type: ignore[list-item]
    assert len(fused) == 3
    assert isinstance(fused[0], FusedInterceptor)
    assert fused[0].members == (a,)
    assert fused[1] is foreign
    assert isinstance(fused[2], FusedInterceptor)
    assert fused[2].members == (b, c)


class Checking(UnaryInterceptor):
    """A concern whose wrapper is a plain function returning the inner coroutine."""

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        def checked(request: Any, context: Context) -> Any:
            return behavior(f"{request}!", context)

        return checked


async def test_a_plain_function_concern_outermost_still_gives_grpc_a_coroutine_function() -> None:
    # grpc runs a plain function handler in its thread pool: what it gets must be async.
    details = Details("/user.v1.UserService/GetUser")
    for handler in (
        await FusedInterceptor([Checking()]).intercept_service(found(HANDLER), details),  # type: ignore[arg-type]
        await Checking().intercept_service(found(HANDLER), details),  # type: ignore[arg-type]
    ):
        assert handler is not None
        assert inspect.iscoroutinefunction(handler.unary_unary)
        assert await run(handler, b"req") == "answer to req!"
