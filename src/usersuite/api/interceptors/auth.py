"""Authentication (who is calling) and authorization (may they call this method)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from usersuite.api import tls
from usersuite.api.auth.jwt import JwtVerifier
from usersuite.api.auth.scopes import required_scope
from usersuite.api.auth.signing import SignatureVerifier
from usersuite.api.errors import PermissionDenied, RateLimited, Unauthenticated, spec_for
from usersuite.api.interceptors.base import (
    Context,
    Continuation,
    Deserializer,
    Handler,
    UnaryBehavior,
    UnaryInterceptor,
)
from usersuite.api.interceptors.errors import abort_with
from usersuite.api.interceptors.rate_limit import FailedAuthLimiter, peer_address
from usersuite.service import request_context
from usersuite.service.request_context import Principal

BEARER = "bearer "
MAX_SUBJECT_LENGTH = 255  # the outbox principal column


@dataclass(frozen=True)
class Authenticator:
    """Turns a call's credentials into a Principal, then checks the method's scope."""

    jwt: JwtVerifier | None
    signatures: SignatureVerifier | None
    mtls_scopes: frozenset[str]
    exempt_prefixes: tuple[str, ...]

    def is_exempt(self, method: str) -> bool:
        return method.startswith(self.exempt_prefixes)

    async def authenticate(
        self, method: str, metadata: Mapping[str, str], peer: str, body: bytes | None
    ) -> Principal:
        """`body` is the request's wire bytes; None for streaming calls, which cannot be signed."""
        principal = await self._identify(method, metadata, peer, body)
        # The subject is stored with every event it causes: keep it storable.
        if len(principal.subject) > MAX_SUBJECT_LENGTH or "\x00" in principal.subject:
            raise Unauthenticated(
                f"the caller's identity (sub) must be at most {MAX_SUBJECT_LENGTH} characters"
            )
        return principal

    async def _identify(
        self, method: str, metadata: Mapping[str, str], peer: str, body: bytes | None
    ) -> Principal:
        authorization = metadata.get("authorization")
        if authorization is not None:
            if not authorization.lower().startswith(BEARER) or self.jwt is None:
                raise Unauthenticated("authorization metadata must be 'Bearer <JWT>'")
            return await self.jwt.verify(authorization[len(BEARER) :].strip())
        if self.signatures is not None and self.signatures.has_signature(metadata):
            if body is None:
                raise Unauthenticated("request signatures cover unary calls only; use a token")
            return await self.signatures.authenticate(method, metadata, body)
        if peer and self.mtls_scopes:
            return Principal(subject=peer, scopes=self.mtls_scopes, method="mtls")
        raise Unauthenticated("missing credentials: send 'authorization: Bearer <JWT>'")

    async def close(self) -> None:
        if self.jwt is not None:
            await self.jwt.close()
        if self.signatures is not None:
            await self.signatures.close()

    @staticmethod
    def authorize(method: str, principal: Principal) -> None:
        scope = required_scope(method)
        if scope not in principal.scopes:
            raise PermissionDenied(scope)


@dataclass(frozen=True)
class _WithBody:
    """The deserialized request together with its bytes on the wire (for signatures)."""

    raw: bytes
    message: Any


async def _respond(result: Any, context: Context) -> Any:
    """Finishes a handler's result whatever its style: awaitable, async or plain iterator."""
    if inspect.isawaitable(result):
        return await result
    if hasattr(result, "__aiter__"):
        async for response in result:
            await context.write(response)
    else:
        for response in result:
            await context.write(response)
    return None


class AuthInterceptor(UnaryInterceptor):
    """Every handler kind passes here: unary and streaming, ours, health's and reflection's.

    Only the exempt prefixes (health, and reflection when it is public) go through untouched.
    A peer whose calls keep failing authentication is refused before any verification.
    """

    def __init__(self, authenticator: Authenticator, failures: FailedAuthLimiter) -> None:
        self._auth = authenticator
        self._failures = failures
        self.exempt = authenticator.exempt_prefixes

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
        def keep_body(raw: bytes) -> _WithBody:
            return _WithBody(raw, deserialize(raw))

        return keep_body

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def authenticated(request: _WithBody, context: Context) -> Any:
            return await self._run(
                method, context, request.raw, lambda: behavior(request.message, context)
            )

        return authenticated

    async def _admit(self, method: str, context: Context, body: bytes | None) -> Principal:
        """The caller's principal; aborts the call when it is not who it must be."""
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()
                    if isinstance(value, str)}  # fmt: skip
        address = peer_address(context.peer())
        try:
            self._failures.check(address)  # before any RSA verification or JWKS refresh
            principal = await self._auth.authenticate(
                method, metadata, tls.peer_identity(context), body
            )
        except Unauthenticated as exc:
            self._failures.failed(address)
            await abort_with(context, spec_for(exc))
        except RateLimited as exc:
            await abort_with(context, spec_for(exc))
        return principal

    async def _run(
        self, method: str, context: Context, body: bytes | None, call: Callable[[], Any]
    ) -> Any:
        principal = await self._admit(method, context, body)
        # Identified before authorization, so a refused call is logged with its caller.
        token = request_context.identify(principal)
        try:
            try:
                self._auth.authorize(method, principal)
            except PermissionDenied as exc:
                await abort_with(context, spec_for(exc))
            return await _respond(call(), context)
        finally:
            request_context.principal.reset(token)

    def _streaming(self, handler: Handler, method: str) -> Handler:
        # Coroutines that write with context.write serve every streaming shape in grpc.aio.
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_stream is not None:
            unary_stream: Any = handler.unary_stream  # grpc-stubs types the sync context

            async def unary_in(request: Any, context: Context) -> Any:
                return await self._run(
                    method, context, None, lambda: unary_stream(request, context)
                )

            return grpc.unary_stream_rpc_method_handler(unary_in, **codec)
        stream_in: Any = handler.stream_unary or handler.stream_stream
        assert stream_in is not None

        async def streamed(requests: Any, context: Context) -> Any:
            return await self._run(method, context, None, lambda: stream_in(requests, context))

        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(streamed, **codec)
        return grpc.stream_stream_rpc_method_handler(streamed, **codec)


def _resolved(handler: Handler | None) -> Continuation:
    """A continuation that answers with a handler already looked up."""

    async def continuation(_: grpc.HandlerCallDetails) -> Handler | None:
        return handler

    return continuation
