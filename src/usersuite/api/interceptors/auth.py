"""Authentication (who is calling) and authorization (may they call this method)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from usersuite.api import tls
from usersuite.api.auth.jwt import JwtVerifier
from usersuite.api.auth.scopes import required_scope
from usersuite.api.auth.signing import SignatureVerifier
from usersuite.api.errors import PermissionDenied, Unauthenticated, spec_for
from usersuite.api.interceptors.base import (
    Context,
    Deserializer,
    UnaryBehavior,
    UnaryInterceptor,
)
from usersuite.api.interceptors.errors import abort_with
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
        self, method: str, metadata: Mapping[str, str], peer: str, body: bytes
    ) -> Principal:
        principal = await self._identify(method, metadata, peer, body)
        # The subject is stored with every event it causes: keep it storable.
        if len(principal.subject) > MAX_SUBJECT_LENGTH or "\x00" in principal.subject:
            raise Unauthenticated(
                f"the caller's identity (sub) must be at most {MAX_SUBJECT_LENGTH} characters"
            )
        return principal

    async def _identify(
        self, method: str, metadata: Mapping[str, str], peer: str, body: bytes
    ) -> Principal:
        authorization = metadata.get("authorization")
        if authorization is not None:
            if not authorization.lower().startswith(BEARER) or self.jwt is None:
                raise Unauthenticated("authorization metadata must be 'Bearer <JWT>'")
            return await self.jwt.verify(authorization[len(BEARER) :].strip())
        if self.signatures is not None and self.signatures.has_signature(metadata):
            return self.signatures.verify(method, metadata, body)
        if peer and self.mtls_scopes:
            return Principal(subject=peer, scopes=self.mtls_scopes, method="mtls")
        raise Unauthenticated("missing credentials: send 'authorization: Bearer <JWT>'")

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


class AuthInterceptor(UnaryInterceptor):
    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator
        self.exempt = authenticator.exempt_prefixes

    def decode(self, method: str, deserialize: Deserializer) -> Deserializer:
        def keep_body(raw: bytes) -> _WithBody:
            return _WithBody(raw, deserialize(raw))

        return keep_body

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def authenticated(request: _WithBody, context: Context) -> Any:
            metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()
                        if isinstance(value, str)}  # fmt: skip
            peer = tls.peer_identity(context)
            try:
                principal = await self._auth.authenticate(method, metadata, peer, request.raw)
            except (Unauthenticated, PermissionDenied) as exc:
                await abort_with(context, spec_for(exc))
            # Identified before authorization, so a refused call is logged with its caller.
            token = request_context.identify(principal)
            try:
                try:
                    self._auth.authorize(method, principal)
                except PermissionDenied as exc:
                    await abort_with(context, spec_for(exc))
                return await behavior(request.message, context)
            finally:
                request_context.principal.reset(token)

        return authenticated
