"""Opaque, tamper-proof page tokens for keyset pagination (AIP-158)."""

import base64
import binascii
import hashlib
import hmac
import json

from usersuite.platform.domain.errors import InvalidPageToken

_MAC_BYTES = 16


class PageTokenCodec:
    """Signs the keyset cursor together with the request parameters it was issued for."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("page token key must be at least 16 bytes")
        self._key = key

    def encode(self, cursor: int, request_fingerprint: str) -> str:
        body = json.dumps({"c": cursor, "r": request_fingerprint}, separators=(",", ":")).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    def decode(self, token: str, request_fingerprint: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidPageToken("not a token issued by this service") from None
        # The decoder skips characters outside the alphabet; only the exact text we issued counts.
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
            raise InvalidPageToken("not a token issued by this service")
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, expected):
            raise InvalidPageToken("not a token issued by this service")
        payload = json.loads(body)
        if payload.get("r") != request_fingerprint:
            raise InvalidPageToken("issued for a request with other parameters (page_size)")
        cursor = payload.get("c")
        if not isinstance(cursor, int):
            raise InvalidPageToken("not a token issued by this service")
        return cursor
