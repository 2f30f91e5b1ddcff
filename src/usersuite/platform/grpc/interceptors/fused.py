"""Neighbouring concerns of the stack as one grpc interceptor, composed once per method.

Each UnaryInterceptor on its own costs grpc.aio a coroutine, a continuation and a new method
handler on every call, seven times over. Fused, the stack's unary behaviour for a method is
composed on its first call (every concern's `wrap` and `decode`, in the stack's order, exempt
ones left out, exactly as the interceptors one by one would compose it) and reused while the
handler below it is the same object, as the servicer's registered handlers are. What a call
does is unchanged: the composed behaviour runs the same wrappers, whose per-call state lives
inside each call. Streaming and unknown methods go through each concern's own
`intercept_service`, innermost first, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import grpc

from usersuite.platform.grpc.interceptors.base import (
    Continuation,
    Deserializer,
    Handler,
    UnaryBehavior,
    UnaryInterceptor,
    as_handler,
)


def _identity(raw: bytes) -> bytes:
    return raw


class FusedInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, members: Sequence[UnaryInterceptor]) -> None:
        self.members = tuple(members)  # outermost first
        # method -> (the handler below, the composed handler over it)
        self._composed: dict[str, tuple[Handler, Handler]] = {}

    # grpc answers UNIMPLEMENTED for a None handler; grpc-stubs leaves the None out.
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None:
            return await self._one_by_one(handler, handler_call_details)
        found = self._composed.get(method)
        if found is not None and found[0] is handler:
            return found[1]
        composed = self._compose(method, handler)
        self._composed[method] = (handler, composed)
        return composed

    def _compose(self, method: str, handler: Handler) -> Handler:
        behavior: UnaryBehavior = handler.unary_unary  # type: ignore[assignment]
        deserialize: Deserializer = handler.request_deserializer or _identity
        for member in reversed(self.members):
            if method.startswith(member.exempt):
                continue
            behavior = member.wrap(method, behavior)
            deserialize = member.decode(method, deserialize)
        return grpc.unary_unary_rpc_method_handler(
            as_handler(behavior),
            request_deserializer=deserialize,
            response_serializer=handler.response_serializer,
        )

    async def _one_by_one(
        self, handler: Handler | None, details: grpc.HandlerCallDetails
    ) -> Handler | None:
        async def resolved(_: grpc.HandlerCallDetails) -> Handler | None:
            return handler

        continuation: Continuation = resolved
        for member in reversed(self.members):
            continuation = functools.partial(member.intercept_service, continuation)
        return await continuation(details)


def fuse(stack: Sequence[grpc.aio.ServerInterceptor]) -> list[grpc.aio.ServerInterceptor]:  # type: ignore[type-arg]
    """The stack with each run of neighbouring UnaryInterceptors fused into one."""
    fused: list[grpc.aio.ServerInterceptor] = []  # type: ignore[type-arg]
    run: list[UnaryInterceptor] = []
    for interceptor in stack:
        if isinstance(interceptor, UnaryInterceptor):
            run.append(interceptor)
            continue
        if run:
            fused.append(FusedInterceptor(run))
            run = []
        fused.append(interceptor)
    if run:
        fused.append(FusedInterceptor(run))
    return fused
