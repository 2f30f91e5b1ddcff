"""Token-bucket rate limits: per principal, for the whole server, and for failed authentication."""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from usersuite.platform.config.groups import LimitSettings
from usersuite.platform.grpc.errors import ErrorCatalog, RateLimited
from usersuite.platform.grpc.interceptors.base import Context, UnaryBehavior, UnaryInterceptor
from usersuite.platform.grpc.interceptors.errors import fail
from usersuite.platform.service import request_context

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

    def give_back(self) -> None:
        """Returns a token taken in advance for work that turned out not to need it."""
        self.tokens = min(self.burst, self.tokens + 1)

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


def client_address(peer: str) -> str:
    """Who is calling, as far as limits go: the address without its source port, and an IPv6
    address by its /64 (one host can take any address in its /64 at will).

    `ipv4:10.0.0.7:53112` -> `ipv4:10.0.0.7`; `ipv6:[2001:db8::1]:53112` -> `ipv6:2001:db8::/64`.
    """
    scheme, _, rest = peer.partition(":")
    if scheme == "ipv4":
        return peer.rpartition(":")[0]
    if scheme == "ipv6":
        host = unquote(rest).rpartition(":")[0].strip("[]").partition("%")[0]
        try:
            return f"ipv6:{ipaddress.IPv6Network(f'{host}/64', strict=False)}"
        except ValueError:
            return peer
    return peer


class FailedAuthLimiter:
    """Bounds the verification work bad credentials can buy without locking out valid callers.

    Only a credential that needs verifying is counted: a token already in the verified cache
    never is, so it is never refused here. Two budgets are spent by each failed verification:
    - one per (client address, hash of the credential), so a caller repeating a bad token is
      refused, while others behind the same address (NAT, a proxy, a sidecar) keep theirs;
    - one for the whole server, which an attacker rotating tokens (or addresses) runs down. It
      bounds the verifications (and JWKS refreshes) bad credentials can cause; while it is spent,
      new, not yet cached credentials are refused too, but cached ones are still served.
    Both are spent before verifying (so concurrent calls cannot overdraw them) and given back
    when the credential is good: good credentials spend neither.
    """

    def __init__(
        self,
        limits: LimitSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._callers = Buckets(limits.auth_failure_rate_per_second, limits.auth_failure_burst)
        self._global = TokenBucket(
            limits.auth_failure_global_rate_per_second, limits.auth_failure_global_burst, clock()
        )
        self._clock = clock

    @staticmethod
    def _key(address: str, credential: str) -> str:
        return f"{address} {hashlib.sha256(credential.encode()).hexdigest()[:32]}"

    def reserve(self, address: str, credential: str) -> str:
        """Takes one from both budgets before verifying, so concurrent calls cannot overdraw
        them; returns the key to `refund` when the credential turns out good (or the failure
        is the server's, not the caller's)."""
        now = self._clock()
        key = self._key(address, credential)
        caller = self._callers.get(key, now)
        if wait := caller.wait(now):
            raise RateLimited(wait, "failed authentication")
        if wait := self._global.wait(now):
            raise RateLimited(wait, "failed authentication (server)")
        caller.take(now)
        self._global.take(now)
        return key

    def refund(self, key: str) -> None:
        self._global.give_back()
        if (caller := self._callers.find(key)) is not None:
            caller.give_back()


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
        errors: ErrorCatalog,
        clock: Callable[[], float] = time.monotonic,
        exempt: tuple[str, ...] = (),
    ) -> None:
        self._errors = errors
        self.limiter = RateLimiter(limits, clock)
        self.exempt = exempt

    def wrap(self, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
        async def limited(request: Any, context: Context) -> Any:
            # Anonymous callers (auth disabled) share one bucket per client address, whatever
            # their connection's source port.
            subject = request_context.principal.get().subject
            key = subject or f"peer:{client_address(context.peer())}"
            try:
                self.limiter.check(key)
            except RateLimited as exc:
                raise fail(context, self._errors.spec_for(exc)) from None
            return await behavior(request, context)

        return limited
