"""The gRPC plumbing of authentication: every handler kind passes the credential policy."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from usersuite.platform.grpc import tls
from usersuite.platform.grpc.auth.authenticator import Authenticator
from usersuite.platform.grpc.errors import (
    ErrorCatalog,
    FailedCall,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from usersuite.platform.grpc.interceptors.base import (
    Context,
    Continuation,
    Deserializer,
    Handler,
    UnaryBehavior,
    UnaryInterceptor,
)
from usersuite.platform.grpc.interceptors.errors import abort_with, fail
from usersuite.platform.grpc.interceptors.rate_limit import FailedAuthLimiter, client_address
from usersuite.platform.service import request_context
from usersuite.platform.service.request_context import Principal


@dataclass(frozen=True)
class _WithBody:
    """The deserialized request together with its bytes on the wire (for signatures)."""

    raw: bytes
    message: Any


async def _write_all(result: Any, context: Context) -> None:
    """Writes a streaming handler's responses, from an async or a plain iterator."""
    if hasattr(result, "__aiter__"):
        async for response in result:
            await context.write(response)
    else:
        for response in result:
            await context.write(response)


class AuthInterceptor(UnaryInterceptor):
    """Every handler kind passes here: unary and streaming, ours, health's and reflection's.

    Only the exempt prefixes (health, and reflection when it is public) go through untouched.
    A credential that keeps failing verification is refused before any more verification.
    """

    def __init__(
        self,
        authenticator: Authenticator,
        failures: FailedAuthLimiter,
        exempt: tuple[str, ...],
        errors: ErrorCatalog,
    ) -> None:
        self._errors = errors
        self._auth = authenticator
        self._failures = failures
        self.exempt = exempt

    # grpc answers UNIMPLEMENTED for a None handler; grpc-stubs leaves the None out.
    async def intercept_service(  # type: ignore[override]
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is not None or method.startswith(self.exempt):
            # Unary calls take the base's way, which keeps the request bytes for signatures.
            return await super().intercept_service(_resolved(handler), handler_call_details)
        return self._streaming(handler, method)

    def decode(self, method: str, deserialize: Deserializer) -> Deserializer:
        if self._auth.signatures is None:
            return deserialize  # only a request signature needs the bytes on the wire

        def keep_body(raw: bytes) -> _WithBody:
            return _WithBody(raw, deserialize(raw))

        return keep_body

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        # Plain functions returning _run's coroutine: no coroutine of their own (as_handler).
        if self._auth.signatures is None:

            def identified(request: Any, context: Context) -> Awaitable[Any]:
                return self._run(method, context, None, lambda: behavior(request, context))

            return identified

        def authenticated(request: _WithBody, context: Context) -> Awaitable[Any]:
            return self._run(
                method, context, request.raw, lambda: behavior(request.message, context)
            )

        return authenticated

    def _peer_identity(self, context: Context) -> str:
        """The client certificate's identity, asked of grpc only where mTLS can admit a caller."""
        return tls.peer_identity(context) if self._auth.mtls_scopes else ""

    async def _admit(self, method: str, context: Context, body: bytes | None) -> Principal:
        """The caller's principal; fails the call when it is not who it must be."""
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()
                    if isinstance(value, str)}  # fmt: skip
        address = client_address(context.peer())
        credential = self._auth.costly_credential(metadata)
        reserved = None
        try:
            if credential is not None:  # before any RSA verification or JWKS refresh
                reserved = self._failures.reserve(address, credential)
            principal = await self._auth.authenticate(
                method, metadata, self._peer_identity(context), body
            )
        except Unauthenticated as exc:
            reserved = None  # the caller's failure keeps what it spent
            raise fail(context, self._errors.spec_for(exc)) from None
        except RateLimited as exc:
            raise fail(context, self._errors.spec_for(exc)) from None
        finally:
            if reserved is not None:
                self._failures.refund(reserved)
        return principal

    def _known_caller(self, context: Context) -> Principal | None:
        """A call whose bearer token was verified before: no more work to admit it."""
        authorization = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":  # as _admit reads it: the last one counts
                authorization = value
        if not isinstance(authorization, str):
            return None
        return self._auth.known_caller(authorization)

    async def _run(
        self, method: str, context: Context, body: bytes | None, call: Callable[[], Any]
    ) -> Any:
        principal = self._known_caller(context) or await self._admit(method, context, body)
        # Identified before authorization, so a refused call is logged with its caller.
        token = request_context.identify(principal)
        try:
            try:
                self._auth.authorize(method, principal)
            except PermissionDenied as exc:
                raise fail(context, self._errors.spec_for(exc)) from None
            result = call()  # a unary handler's coroutine, or a streaming handler's iterator
            if inspect.isawaitable(result):
                return await result
            return await _write_all(result, context)
        finally:
            request_context.principal.reset(token)

    async def _sent(self, method: str, context: Context, call: Callable[[], Any]) -> Any:
        """A streaming call's run: no ErrorInterceptor is around it, so its refusal is sent here."""
        try:
            return await self._run(method, context, None, call)
        except FailedCall as failed:
            await abort_with(context, failed.spec)

    def _streaming(self, handler: Handler, method: str) -> Handler:
        # Coroutines that write with context.write serve every streaming shape in grpc.aio.
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_stream is not None:
            unary_stream: Any = handler.unary_stream  # grpc-stubs types the sync context

            async def unary_in(request: Any, context: Context) -> Any:
                return await self._sent(method, context, lambda: unary_stream(request, context))

            return grpc.unary_stream_rpc_method_handler(unary_in, **codec)
        stream_in: Any = handler.stream_unary or handler.stream_stream
        assert stream_in is not None

        async def streamed(requests: Any, context: Context) -> Any:
            return await self._sent(method, context, lambda: stream_in(requests, context))

        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(streamed, **codec)
        return grpc.stream_stream_rpc_method_handler(streamed, **codec)


def _resolved(handler: Handler | None) -> Continuation:
    """A continuation that answers with a handler already looked up."""

    async def continuation(_: grpc.HandlerCallDetails) -> Handler | None:
        return handler

    return continuation
