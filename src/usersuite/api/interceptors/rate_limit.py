"""Token-bucket rate limits per principal and for the whole server."""

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

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, limits: LimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._global = TokenBucket(limits.global_rate_per_second, limits.global_burst, clock())
        self._principals: OrderedDict[str, TokenBucket] = OrderedDict()

    def check(self, key: str) -> None:
        now = self._clock()
        bucket = self._principals.get(key)
        if bucket is None:
            bucket = TokenBucket(
                self._limits.principal_rate_per_second, self._limits.principal_burst, now
            )
            self._principals[key] = bucket
            if len(self._principals) > MAX_TRACKED_PRINCIPALS:
                self._principals.popitem(last=False)
        else:
            self._principals.move_to_end(key)
        wait = bucket.take(now)
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
