"""JWKS public keys by `kid`, refreshed in the background so that requests never wait on a fetch.

One fetch is in flight at a time and it is shielded from the callers that wait on it, so a caller
whose deadline passes never cancels it and never starts another. Requests whose `kid` is known
are answered from the cache; an unknown `kid` may trigger a fetch, but at most one per
`min_refresh_seconds`. While the provider is down the cached keys keep working for at most
`max_stale_seconds`; past that every call fails with UNAVAILABLE, so a key revoked at the
provider stops working within a bounded time.
"""

import asyncio
import contextlib
import logging
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jwt import PyJWK, PyJWKSet
from prometheus_client import CollectorRegistry, Counter

from usersuite.platform.grpc.errors import Unauthenticated
from usersuite.platform.service.errors import ServiceUnavailable

log = logging.getLogger(__name__)
# A background retry after a failed fetch never comes sooner than this, even with no rate limit.
MIN_RETRY_SECONDS = 0.1


class JwksFetchError(Exception):
    """The JWKS document could not be fetched or is not acceptable."""


@dataclass(frozen=True)
class JwksPolicy:
    refresh_seconds: float = 300.0
    min_refresh_seconds: float = 30.0
    max_stale_seconds: float = 3600.0
    fetch_timeout_seconds: float = 5.0
    max_bytes: int = 256 * 1024
    ca_file: Path | None = None

    @property
    def retry_seconds(self) -> float:
        return max(MIN_RETRY_SECONDS, min(self.min_refresh_seconds, self.refresh_seconds))


def fetch_url(url: str, policy: JwksPolicy) -> str:
    """GETs the JWKS over http(s) with a timeout, a size cap and certificate verification."""
    if not url.lower().startswith(("https://", "http://")):
        raise JwksFetchError("the JWKS URL must be https:// (or http:// on loopback)")
    context = ssl.create_default_context(cafile=str(policy.ca_file) if policy.ca_file else None)
    request = urllib.request.Request(url, headers={"accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(  # noqa: S310 - scheme checked above
        request, timeout=policy.fetch_timeout_seconds, context=context
    ) as response:
        body: bytes = response.read(policy.max_bytes + 1)
    if len(body) > policy.max_bytes:
        raise JwksFetchError(f"the JWKS document is larger than {policy.max_bytes} bytes")
    return body.decode()


class JwksMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.fetch_failures = Counter(
            "usersuite_jwks_fetch_failures_total",
            "JWKS fetches that failed (timeout, error status, too large, not a JWKS)",
            registry=registry,
        )
        self.stale_rejections = Counter(
            "usersuite_jwks_stale_rejections_total",
            "calls refused because the cached JWKS is older than auth.jwks_max_stale_seconds",
            registry=registry,
        )


def parse_jwks(text: str) -> dict[str, PyJWK]:
    try:
        keys = PyJWKSet.from_json(text).keys
    except Exception as exc:  # PyJWT raises several types for bad documents
        raise JwksFetchError(f"not a usable JWKS document: {exc}") from None
    return {key.key_id: key for key in keys if key.key_id}


class JwksSource:
    """Keys from a JWKS file or URL; `key_for` never waits for a fetch when the kid is known."""

    def __init__(
        self,
        *,
        file: Path | None = None,
        url: str | None = None,
        policy: JwksPolicy | None = None,
        metrics: JwksMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, JwksPolicy], str] = fetch_url,
    ) -> None:
        if (file is None) == (url is None):
            raise ValueError("a JWKS source needs exactly one of a file or a URL")
        self._file, self._url = file, url
        self._policy = policy or JwksPolicy()
        self._metrics = metrics
        self._clock = clock
        self._fetch = fetch
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._stale_logged = False
        self._in_flight: asyncio.Task[bool] | None = None
        self._refresher: asyncio.Task[None] | None = None

    def _read(self) -> str:
        if self._file is not None:
            return self._file.read_text()
        assert self._url is not None
        return self._fetch(self._url, self._policy)

    async def _load(self) -> bool:
        self._attempted_at = self._clock()
        try:
            # The thread also stops on its own: the socket timeout is the same bound.
            text = await asyncio.wait_for(
                asyncio.to_thread(self._read), self._policy.fetch_timeout_seconds
            )
            keys = parse_jwks(text)
        except Exception as exc:  # keep serving the cached keys, up to max_stale_seconds
            log.warning("could not load the JWKS: %s", exc or type(exc).__name__)
            if self._metrics is not None:
                self._metrics.fetch_failures.inc()
            return False
        self._keys, self._loaded_at, self._stale_logged = keys, self._clock(), False
        log.info("loaded %d JWKS keys", len(keys))
        return True

    def _fetch_once(self) -> "asyncio.Task[bool]":
        """The fetch in flight, or a new one when none is."""
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.create_task(self._load())
        return self._in_flight

    async def _refresh_forever(self) -> None:
        while True:
            loaded = await asyncio.shield(self._fetch_once())
            policy = self._policy
            await asyncio.sleep(policy.refresh_seconds if loaded else policy.retry_seconds)

    def _start(self) -> None:
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever())

    def _may_fetch_now(self) -> bool:
        if self._in_flight is not None and not self._in_flight.done():
            return True
        last = self._attempted_at
        return last is None or self._clock() - last >= self._policy.min_refresh_seconds

    def _check_fresh(self) -> None:
        retry = self._policy.retry_seconds
        if self._loaded_at is None:
            raise ServiceUnavailable("the token signing keys (JWKS) are not available", retry)
        age = self._clock() - self._loaded_at
        if age <= self._policy.max_stale_seconds:
            return
        if self._metrics is not None:
            self._metrics.stale_rejections.inc()
        if not self._stale_logged:
            self._stale_logged = True
            log.error(
                "the JWKS has not been refreshed for %.0fs (auth.jwks_max_stale_seconds=%g): "
                "refusing tokens until the identity provider is reachable",
                age,
                self._policy.max_stale_seconds,
            )
        raise ServiceUnavailable("the token signing keys (JWKS) are out of date", retry)

    async def key_for(self, kid: str) -> PyJWK:
        self._start()
        if kid not in self._keys and self._may_fetch_now():
            # Shielded: a caller that gives up (deadline) leaves the fetch to the next one.
            await asyncio.shield(self._fetch_once())
        self._check_fresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("token signed with an unknown key id")
        return key

    async def close(self) -> None:
        for task in (self._refresher, self._in_flight):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._in_flight = None
