"""HMAC-SHA256 request signing for service callers without a JWT.

A signed call carries four metadata entries (keys lower-case, values ASCII):

    x-usersuite-key-id      which shared secret signed the call (a key of auth.signing_keys)
    x-usersuite-timestamp   unix time in whole seconds, decimal
    x-usersuite-nonce       8-128 characters of [A-Za-z0-9._~-], unique per call and key
    x-usersuite-signature   hex HMAC-SHA256(secret, canonical string)

The canonical string is, joined by "\\n" and UTF-8 encoded:

    <full method name, e.g. /user.v1.UserService/GetUser>
    <x-usersuite-timestamp exactly as sent>
    <x-usersuite-nonce>
    <hex SHA-256 of the serialized request message as sent (before any gRPC compression)>

The server accepts a timestamp within +-max_skew_seconds of its clock and each (key id, nonce)
once while that timestamp is acceptable; a nonce cache of nonce_cache_size entries, oldest evicted
first, enforces that, so it should hold at least the signed calls of 2 * max_skew_seconds.
The cache lives in one server process and is the fast path. On PostgreSQL every replica also
records the nonce in a shared table (insert-if-absent with the same expiry), so a captured call is
accepted by one replica only; on SQLite there is one process anyway. Send signed calls over TLS all
the same, which keeps them from being captured in the first place.
"""

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

from usersuite.platform.grpc.errors import Unauthenticated
from usersuite.platform.service.request_context import Principal

KEY_ID = "x-usersuite-key-id"
TIMESTAMP = "x-usersuite-timestamp"
NONCE = "x-usersuite-nonce"
SIGNATURE = "x-usersuite-signature"

_TIMESTAMP_FORMAT = re.compile(r"[0-9]{1,12}")
_NONCE_FORMAT = re.compile(r"[A-Za-z0-9._~-]{8,128}")
_SIGNATURE_FORMAT = re.compile(r"[0-9a-fA-F]{64}")
_SHOWN_KEY_ID_LENGTH = 64


def canonical_request(method: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The exact bytes that are signed (see the module docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method, timestamp, nonce, digest)).encode()


def _signature(key: bytes, method: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return hmac.new(key, canonical_request(method, timestamp, nonce, body), hashlib.sha256).digest()


def sign_request(
    method: str,
    body: bytes,
    key_id: str,
    key: bytes,
    *,
    timestamp: float | None = None,
    nonce: str | None = None,
) -> list[tuple[str, str]]:
    """The metadata that signs one call of `method` whose serialized request is `body`.

    `timestamp` defaults to now and `nonce` to a fresh random one; pass them only in tests.
    """
    sent_at = str(int(time.time() if timestamp is None else timestamp))
    nonce = secrets.token_urlsafe(18) if nonce is None else nonce
    signature = _signature(key, method, sent_at, nonce, body).hex()
    return [(KEY_ID, key_id), (TIMESTAMP, sent_at), (NONCE, nonce), (SIGNATURE, signature)]


class NonceStore(Protocol):
    """Nonces shared by every replica (the database)."""

    async def claim(self, key_id: str, nonce: str, expires_at: float) -> bool:
        """True when this (key id, nonce) was not claimed before, or only expired claims exist."""
        ...

    async def close(self) -> None: ...


REPLAYED = "request nonce was already used; sign each call afresh"


class SignatureVerifier:
    """Checks signed calls: known key, fresh timestamp, valid HMAC, nonce not seen before."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        scopes: frozenset[str],
        max_skew_seconds: float = 300.0,
        nonce_cache_size: int = 100_000,
        clock: Callable[[], float] = time.time,
        shared_nonces: NonceStore | None = None,
    ) -> None:
        if nonce_cache_size < 1:
            raise ValueError("nonce_cache_size must be at least 1")
        self._keys = dict(keys)
        self._scopes = scopes
        self._max_skew = max_skew_seconds
        self._nonce_cache_size = nonce_cache_size
        self._clock = clock
        self._shared = shared_nonces
        # (key id, nonce) -> the time after which its timestamp is stale, in insertion order.
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def has_signature(self, metadata: Mapping[str, str]) -> bool:
        return SIGNATURE in metadata

    async def authenticate(
        self, method: str, metadata: Mapping[str, str], body: bytes
    ) -> Principal:
        """`verify`, then the nonce is claimed for every replica (when a shared store is set)."""
        principal = self.verify(method, metadata, body)
        if self._shared is not None:
            expires_at = int(metadata[TIMESTAMP]) + self._max_skew
            if not await self._shared.claim(metadata[KEY_ID], metadata[NONCE], expires_at):
                raise Unauthenticated(REPLAYED)
        return principal

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()

    def verify(self, method: str, metadata: Mapping[str, str], body: bytes) -> Principal:
        """The signer's principal, or Unauthenticated saying what is wrong (never the secret).

        Checks this process's nonce cache only; `authenticate` adds the shared store.
        """
        missing = [name for name in (KEY_ID, TIMESTAMP, NONCE, SIGNATURE) if not metadata.get(name)]
        if missing:
            raise Unauthenticated(f"signed request lacks metadata {', '.join(missing)}")
        key_id, sent_at = metadata[KEY_ID], metadata[TIMESTAMP]
        nonce, signature = metadata[NONCE], metadata[SIGNATURE]
        key = self._keys.get(key_id)
        if key is None:
            shown = key_id[:_SHOWN_KEY_ID_LENGTH]
            raise Unauthenticated(f"unknown request signing key id {shown!r}")
        if not _TIMESTAMP_FORMAT.fullmatch(sent_at):
            raise Unauthenticated(f"{TIMESTAMP} must be unix time in whole seconds")
        now = self._clock()
        if abs(now - int(sent_at)) > self._max_skew:
            raise Unauthenticated(
                f"request signature timestamp is more than {self._max_skew:g}s from server time"
            )
        if not _NONCE_FORMAT.fullmatch(nonce):
            raise Unauthenticated(f"{NONCE} must be 8 to 128 characters of [A-Za-z0-9._~-]")
        if not _SIGNATURE_FORMAT.fullmatch(signature):
            raise Unauthenticated(f"{SIGNATURE} must be 64 hex digits (HMAC-SHA256)")
        expected = _signature(key, method, sent_at, nonce, body)
        if not hmac.compare_digest(expected, bytes.fromhex(signature)):
            raise Unauthenticated("request signature does not match the method, metadata and body")
        # Only calls with a valid signature reach the cache, so others cannot flood it.
        self._remember(key_id, nonce, stale_after=int(sent_at) + self._max_skew, now=now)
        return Principal(subject=f"signer:{key_id}", scopes=self._scopes, method="signature")

    def _remember(self, key_id: str, nonce: str, *, stale_after: float, now: float) -> None:
        seen = self._seen
        while seen:  # drop expired entries from the old end; they cannot be replayed anymore
            oldest = next(iter(seen))
            if seen[oldest] >= now:
                break
            del seen[oldest]
        entry = (key_id, nonce)
        if seen.get(entry, -1.0) >= now:
            raise Unauthenticated(REPLAYED)
        seen[entry] = stale_after
        seen.move_to_end(entry)
        while len(seen) > self._nonce_cache_size:
            seen.popitem(last=False)
