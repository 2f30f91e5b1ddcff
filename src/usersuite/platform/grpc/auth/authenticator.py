"""The credential policy: who is calling (a Principal) and whether it may call a method."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from usersuite.platform.grpc.auth.jwt import JwtVerifier
from usersuite.platform.grpc.auth.scopes import required_scope
from usersuite.platform.grpc.auth.signing import SIGNATURE, SignatureVerifier
from usersuite.platform.grpc.errors import PermissionDenied, Unauthenticated
from usersuite.platform.service.request_context import Principal

BEARER = "bearer "
MAX_SUBJECT_LENGTH = 255  # the outbox principal column


def _bearer_token(authorization: str) -> str | None:
    if not authorization.lower().startswith(BEARER):
        return None
    return authorization[len(BEARER) :].strip()


def _storable(principal: Principal) -> bool:
    """The subject is stored with every event it causes: it must fit and be text."""
    return len(principal.subject) <= MAX_SUBJECT_LENGTH and "\x00" not in principal.subject


@dataclass(frozen=True)
class Authenticator:
    """Turns a call's credentials into a Principal, then checks the method's scope."""

    jwt: JwtVerifier | None
    signatures: SignatureVerifier | None
    mtls_scopes: frozenset[str]
    # The served service's methods and the scope each needs (its ServiceBinding's).
    method_scopes: Mapping[str, str] = field(default_factory=dict)

    def costly_credential(self, metadata: Mapping[str, str]) -> str | None:
        """The credential `authenticate` would verify (a token not yet verified, a signature);
        None when the call is decided without that work (a cached token, none, a malformed one)."""
        authorization = metadata.get("authorization")
        if authorization is not None:
            token = _bearer_token(authorization)
            if token is None or self.jwt is None or self.jwt.known(token) is not None:
                return None
            return token
        if self.signatures is not None and self.signatures.has_signature(metadata):
            return metadata[SIGNATURE]
        return None

    def known_caller(self, authorization: str) -> Principal | None:
        """The caller of a bearer token verified before and still cached, decided without any
        further work (most calls); None when `authenticate` must decide."""
        token = _bearer_token(authorization)
        if token is None or self.jwt is None:
            return None
        principal = self.jwt.known(token)
        return principal if principal is not None and _storable(principal) else None

    async def authenticate(
        self, method: str, metadata: Mapping[str, str], peer: str, body: bytes | None
    ) -> Principal:
        """`body` is the request's wire bytes; None for streaming calls, which cannot be signed."""
        principal = await self._identify(method, metadata, peer, body)
        if not _storable(principal):
            raise Unauthenticated(
                f"the caller's identity (sub) must be at most {MAX_SUBJECT_LENGTH} characters"
            )
        return principal

    async def _identify(
        self, method: str, metadata: Mapping[str, str], peer: str, body: bytes | None
    ) -> Principal:
        authorization = metadata.get("authorization")
        if authorization is not None:
            token = _bearer_token(authorization)
            if token is None or self.jwt is None:
                raise Unauthenticated("authorization metadata must be 'Bearer <JWT>'")
            return await self.jwt.verify(token)
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

    def authorize(self, method: str, principal: Principal) -> None:
        scope = required_scope(method, self.method_scopes)
        if scope not in principal.scopes:
            raise PermissionDenied(scope)
