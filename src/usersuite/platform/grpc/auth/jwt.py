"""JWT verification with PyJWT: HS256 (shared secret) or RS256/ES256 keys from a JWKS."""

import time
from typing import Any

import jwt

from usersuite.platform.grpc.auth.jwks import JwksSource
from usersuite.platform.grpc.errors import Unauthenticated
from usersuite.platform.service.request_context import Principal

ASYMMETRIC = {"RS256": "RSA", "ES256": "EC"}


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float,
        hs256_secret: bytes | None = None,
        jwks: JwksSource | None = None,
    ) -> None:
        self._issuer, self._audience, self._leeway = issuer, audience, leeway_seconds
        self._hs256_secret = hs256_secret
        self._jwks = jwks

    async def _key(self, header: dict[str, Any]) -> Any:
        alg = header.get("alg")
        if alg == "HS256" and self._hs256_secret is not None:
            return self._hs256_secret
        if alg in ASYMMETRIC and self._jwks is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthenticated("token header has no key id (kid)")
            jwk = await self._jwks.key_for(kid)
            # Never let a token pick a key of another type than its algorithm implies.
            if jwk.key_type != ASYMMETRIC[alg]:
                raise Unauthenticated("token algorithm does not match its key")
            return jwk.key
        raise Unauthenticated(f"token algorithm {alg!r} is not accepted")

    def known(self, token: str) -> Principal | None:
        """The principal `verify` would give without checking the token again (a cache hit)."""
        return None

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        key = await self._key(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(header["alg"])],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token not yet valid") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("token has the wrong issuer") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("token has the wrong audience") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("token signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        subject = claims["sub"]
        # An empty subject would make every such caller one anonymous identity.
        if not isinstance(subject, str) or not subject.strip():
            raise Unauthenticated("token has an empty 'sub' claim")
        return Principal(subject=subject, scopes=_scopes(claims), method="jwt")

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    """OAuth 2 `scope` (space-separated) or `scp` (a list)."""
    scope = claims.get("scope", claims.get("scp", ""))
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, list):
        return frozenset(str(item) for item in scope)
    return frozenset()


def mint_token(
    secret: bytes,
    *,
    subject: str,
    scopes: list[str],
    issuer: str,
    audience: str,
    ttl_seconds: float = 3600,
    now: float | None = None,
) -> str:
    """An HS256 token, for `usersuite token` in dev mode and for tests."""
    issued = time.time() if now is None else now
    claims = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": issuer,
        "aud": audience,
        "iat": int(issued),
        "nbf": int(issued),
        "exp": int(issued + ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
