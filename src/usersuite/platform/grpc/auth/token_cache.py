"""Verified JWTs remembered by their exact text, so a caller's token is checked once, not per call.

Bounded (least recently used out first); an entry lasts until its token's `exp` or
`max_age_seconds`, whichever comes first, so a key withdrawn from the JWKS stops being honoured for
cached tokens within that age. A token that fails verification is never remembered.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cachetools import TLRUCache

from usersuite.platform.grpc.auth.jwt import JwtVerifier
from usersuite.platform.service.request_context import Principal


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires_at: float


def _expiry(_token: str, entry: _Verified, _now: float) -> float:
    return entry.expires_at


class CachedJwtVerifier(JwtVerifier):
    """A JwtVerifier by type (what the authenticator takes) that delegates every check it does
    to the verifier it wraps, and skips them for a token that verifier accepted before."""

    def __init__(
        self,
        verifier: JwtVerifier,
        *,
        max_entries: int,
        max_age_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # No super().__init__(): this object verifies nothing itself.
        self._verifier = verifier
        self._max_age = max_age_seconds
        self._clock = clock
        self._verified: TLRUCache[str, _Verified] = TLRUCache(
            maxsize=max_entries, ttu=_expiry, timer=clock
        )

    def known(self, token: str) -> Principal | None:
        entry = self._verified.get(token)
        return None if entry is None else entry.principal

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            return known.principal
        principal = await self._verifier.verify(token)
        # Verified just now, so reading its `exp` without the key is safe.
        claims = jwt.decode(token, options={"verify_signature": False})
        expires_at = min(float(claims["exp"]), self._clock() + self._max_age)
        self._verified[token] = _Verified(principal, expires_at)
        return principal

    async def close(self) -> None:
        await self._verifier.close()
