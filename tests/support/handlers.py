"""Typed names for test servers that answer methods with raw bytes (no (de)serializers).

grpc-stubs makes `GenericRpcHandler` and `RpcMethodHandler` generic, but at run time they are
plain classes that cannot be subscripted: the checker sees the subscripted base, the
interpreter the plain one.
"""

from typing import TYPE_CHECKING, TypeAlias

import grpc

__all__ = ["RawGenericHandler", "RawMethodHandler"]

RawMethodHandler: TypeAlias = "grpc.RpcMethodHandler[bytes, bytes]"

if TYPE_CHECKING:
    RawGenericHandler: TypeAlias = grpc.GenericRpcHandler[bytes, bytes]
else:
    RawGenericHandler = grpc.GenericRpcHandler
