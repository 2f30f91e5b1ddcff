"""A gRPC proxy in front of the real server that misbehaves, to show that the clients notice:
it corrupts the ErrorInfo in `grpc-status-details-bin`, moves `User.display_name` from field
number 2 to 12 in every User it returns, or answers the first attempt of every distinct call
with UNAVAILABLE (which the clients' retry policy must absorb)."""

import enum
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from user.v1 import user_pb2

DETAILS_KEY = "grpc-status-details-bin"
# Field 31 with wire type 7, which does not exist: no protobuf decoder accepts these bytes.
UNDECODABLE = b"\xff\x01"
RENUMBERED_FIELD = 12
RETURNS_USER = {"CreateUser", "GetUser", "UpdateUser"}
FORWARDED_HEADERS = {"authorization", "traceparent"}


class Tamper(enum.Enum):
    CORRUPT_ERROR_INFO = "corrupt-error-info"
    RENUMBER_DISPLAY_NAME = "renumber-display-name"
    UNAVAILABLE_FIRST = "unavailable-first"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def renumber_display_name(raw: bytes) -> bytes:
    """The User as a server with `display_name = 12` would send it."""
    user = user_pb2.User.FromString(raw)
    name = user.display_name.encode()
    user.ClearField("display_name")
    return user.SerializeToString() + _varint(RENUMBERED_FIELD << 3 | 2) + _varint(len(name)) + name


def corrupt_error_info(trailing: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """The trailing metadata with every ErrorInfo's bytes replaced by undecodable ones."""
    result = []
    for key, value in trailing:
        if key != DETAILS_KEY:
            result.append((key, value))
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                detail.value = UNDECODABLE
        result.append((key, status.SerializeToString()))
    return tuple(result)


class TamperingProxy(grpc.GenericRpcHandler):
    """Forwards every unary call as raw bytes to `upstream`, tampering with what comes back."""

    def __init__(self, upstream: str, tamper: Tamper) -> None:
        self.tamper = tamper
        self.refused = 0
        self._seen: set[tuple[str, bytes, bool]] = set()
        self._channel = grpc.aio.insecure_channel(upstream)
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers((self,))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    async def __aenter__(self) -> "TamperingProxy":
        await self._server.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._server.stop(0)
        await self._channel.close()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(self._forwarder(details.method))  # type: ignore[attr-defined]

    def _forwarder(self, method: str) -> Callable[[bytes, Any], Awaitable[bytes]]:
        upstream = self._channel.unary_unary(method)

        async def forward(request: bytes, context: Any) -> bytes:
            metadata = [(k, v) for k, v in context.invocation_metadata() if k in FORWARDED_HEADERS]
            call = (method, request, any(k == "authorization" for k, _ in metadata))
            if self.tamper is Tamper.UNAVAILABLE_FIRST and call not in self._seen:
                self._seen.add(call)
                self.refused += 1
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the proxy refuses a first try")
            try:
                reply: bytes = await upstream(
                    request, metadata=metadata, timeout=context.time_remaining()
                )
            except grpc.aio.AioRpcError as error:
                trailing = tuple(error.trailing_metadata() or ())
                if self.tamper is Tamper.CORRUPT_ERROR_INFO:
                    trailing = corrupt_error_info(trailing)
                await context.abort(error.code(), error.details(), trailing)
            if (
                self.tamper is Tamper.RENUMBER_DISPLAY_NAME
                and method.rsplit("/", maxsplit=1)[-1] in RETURNS_USER
            ):
                return renumber_display_name(reply)
            return reply

        return forward
