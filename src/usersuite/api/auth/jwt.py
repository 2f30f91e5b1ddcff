"""JWT verification with PyJWT: HS256 (shared secret) or RS256/ES256 keys from a JWKS."""

import asyncio
import logging
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from usersuite.api.errors import Unauthenticated
from usersuite.service.request_context import Principal

log = logging.getLogger(__name__)
ASYMMETRIC = {"RS256": "RSA", "ES256": "EC"}


def _fetch_url(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - configured JWKS URL
        return str(response.read().decode())


class JwksSource:
    """Public keys by `kid`, cached; an unknown kid triggers a refresh at most every N seconds."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        url: str | None = None,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], str] = _fetch_url,
    ) -> None:
        if (file is None) == (url is None):
            raise ValueError("a JWKS source needs exactly one of a file or a URL")
        self._file, self._url = file, url
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._fetch = fetch
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def _read(self) -> str:
        if self._file is not None:
            return self._file.read_text()
        assert self._url is not None
        return self._fetch(self._url)

    async def _load(self) -> None:
        text = await asyncio.to_thread(self._read)
        keys = {}
        for key in PyJWKSet.from_json(text).keys:
            if key.key_id:
                keys[key.key_id] = key
        self._keys = keys
        self._loaded_at = self._clock()
        log.info("loaded %d JWKS keys", len(keys))

    async def _refresh(self, *, unknown_kid: bool) -> None:
        async with self._lock:
            now = self._clock()
            age = None if self._loaded_at is None else now - self._loaded_at
            stale = age is None or age >= self._cache_seconds
            may_retry = age is None or age >= self._min_refresh
            if stale or (unknown_kid and may_retry):
                try:
                    await self._load()
                except Exception as exc:  # keep serving with the keys we have
                    log.warning("could not load the JWKS: %s", exc)
                    self._loaded_at = now

    async def key_for(self, kid: str) -> PyJWK:
        await self._refresh(unknown_kid=False)
        if kid not in self._keys:
            await self._refresh(unknown_kid=True)
        if kid not in self._keys:
            raise Unauthenticated("token signed with an unknown key id")
        return self._keys[kid]


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
        return Principal(subject=str(claims["sub"]), scopes=_scopes(claims), method="jwt")


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
