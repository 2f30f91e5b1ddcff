"""Token-bucket rate limits: per principal, for the whole server, and for failed authentication."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from usersuite.api.errors import RateLimited, spec_for
from usersuite.api.interceptors.base import Context, UnaryBehavior, UnaryInterceptor
from usersuite.api.interceptors.errors import abort_with
from usersuite.config.groups import LimitSettings
from usersuite.service import request_context

MAX_TRACKED_PRINCIPALS = 100_000


class TokenBucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.updated = float(burst), now

    def wait(self, now: float) -> float:
        """0 when a token is available, else the seconds until one is; takes nothing."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        wait = self.wait(now)
        if not wait:
            self.tokens -= 1
        return wait


class Buckets:
    """Token buckets by key, the least recently used forgotten beyond MAX_TRACKED_PRINCIPALS."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, burst
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def get(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, now)
            if len(self._buckets) > MAX_TRACKED_PRINCIPALS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def find(self, key: str) -> TokenBucket | None:
        return self._buckets.get(key)


def peer_address(peer: str) -> str:
    """The caller's address without its port (`ipv4:10.0.0.7:53112` -> `ipv4:10.0.0.7`)."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer


class FailedAuthLimiter:
    """A budget of failed authentications per peer address; spent, the peer is refused early.

    Checked before any verification, so a peer sending bad tokens cannot make the server do
    unbounded RSA verifications or JWKS refreshes; valid calls never spend the budget.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = Buckets(rate, burst)
        self._clock = clock

    def check(self, address: str) -> None:
        bucket = self._buckets.find(address)
        if bucket is not None and (wait := bucket.wait(self._clock())):
            raise RateLimited(wait, "failed authentication")

    def failed(self, address: str) -> None:
        now = self._clock()
        self._buckets.get(address, now).take(now)


class RateLimiter:
    def __init__(self, limits: LimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._global = TokenBucket(limits.global_rate_per_second, limits.global_burst, clock())
        self._principals = Buckets(limits.principal_rate_per_second, limits.principal_burst)

    def check(self, key: str) -> None:
        now = self._clock()
        wait = self._principals.get(key, now).take(now)
        if wait:
            raise RateLimited(wait, "principal")
        wait = self._global.take(now)
        if wait:
            raise RateLimited(wait, "global")


class RateLimitInterceptor(UnaryInterceptor):
    def __init__(
        self,
        limits: LimitSettings,
        clock: Callable[[], float] = time.monotonic,
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.limiter = RateLimiter(limits, clock)
        self.exempt = exempt

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def limited(request: Any, context: Context) -> Any:
            # Anonymous callers (auth disabled) share one bucket per peer address.
            key = request_context.principal.get().subject or f"peer:{context.peer()}"
            try:
                self.limiter.check(key)
            except RateLimited as exc:
                await abort_with(context, spec_for(exc))
            return await behavior(request, context)

        return limited
