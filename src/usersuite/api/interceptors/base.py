"""Helpers shared by interceptors that wrap the behaviour of unary-unary methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc

Continuation = Callable[
    [grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]
]
UnaryBehavior = Callable[[Any, "grpc.aio.ServicerContext[Any, Any]"], Awaitable[Any]]


def wrap_unary(
    handler: grpc.RpcMethodHandler[Any, Any] | None,
    wrap: Callable[[UnaryBehavior], UnaryBehavior],
) -> grpc.RpcMethodHandler[Any, Any] | None:
    """The handler with its unary-unary behaviour wrapped; others (and None) pass through."""
    parts = unary_parts(handler)
    if parts is None:
        return handler
    unary, deserialize, behavior = parts
    return rebuild_unary(unary, deserialize, wrap(behavior))


Deserializer = Callable[[bytes], Any]


def unary_parts(
    handler: grpc.RpcMethodHandler[Any, Any] | None,
) -> tuple[grpc.RpcMethodHandler[Any, Any], Deserializer, UnaryBehavior] | None:
    """A unary-unary handler with its deserializer and behaviour; None for anything else."""
    if handler is None or handler.unary_unary is None:
        return None
    deserialize = handler.request_deserializer or (lambda raw: raw)
    return handler, deserialize, cast(UnaryBehavior, handler.unary_unary)


def rebuild_unary(
    handler: grpc.RpcMethodHandler[Any, Any], deserialize: Deserializer, behavior: UnaryBehavior
) -> grpc.RpcMethodHandler[Any, Any] | None:
    """The handler with its request decoding and behaviour replaced."""
    return grpc.unary_unary_rpc_method_handler(
        behavior, request_deserializer=deserialize, response_serializer=handler.response_serializer
    )
