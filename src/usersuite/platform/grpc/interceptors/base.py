"""The typed base of our interceptors: each concern wraps the behaviour of unary-unary methods.

Unknown methods (None: grpc answers UNIMPLEMENTED), streaming methods (health Watch,
reflection) and a concern's exempt methods pass through untouched.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, cast

import grpc

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable["Handler | None"]]
UnaryBehavior = Callable[[Any, Context], Awaitable[Any]]
Deserializer = Callable[[bytes], Any]


def as_handler(behavior: UnaryBehavior) -> UnaryBehavior:
    """`behavior` as grpc must be given it: a coroutine function (grpc runs a plain function in
    its thread pool). A concern whose wrapper only checks something first may return the inner
    behaviour's coroutine from a plain function, one coroutine fewer per call; the outermost
    wrapper of a stack is made a coroutine function here."""
    if inspect.iscoroutinefunction(behavior):
        return behavior

    async def awaited(request: Any, context: Context) -> Any:
        return await behavior(request, context)

    return awaited


class UnaryInterceptor(grpc.aio.ServerInterceptor, abc.ABC):  # type: ignore[type-arg]
    """Subclasses implement `wrap` (and `decode` when they need the request's bytes)."""

    # Method-name prefixes this concern leaves alone.
    exempt: tuple[str, ...] = ()

    @abc.abstractmethod
    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        """The method's behaviour with this concern around it."""

    def decode(self, method: str, deserialize: Deserializer) -> Deserializer:
        """How the request bytes become the request the wrapped behaviour receives."""
        return deserialize

    # grpc answers UNIMPLEMENTED for a None handler; grpc-stubs leaves the None out.
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith(self.exempt):
            return handler
        deserialize = handler.request_deserializer or (lambda raw: raw)
        behavior = cast(UnaryBehavior, handler.unary_unary)
        # Wrapped anew on every call: caching the wrapped handler per method lost the server
        # span and the access-log line of failed calls (test_tracing, test_observability).
        return grpc.unary_unary_rpc_method_handler(
            as_handler(self.wrap(method, behavior)),
            request_deserializer=self.decode(method, deserialize),
            response_serializer=handler.response_serializer,
        )
