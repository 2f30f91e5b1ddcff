"""The verified-token cache: a hit skips verification; entries end with the token or max age."""

import time

import pytest

from tests.support.clock import ManualClock
from usersuite.platform.grpc.auth.jwt import JwtVerifier, mint_token
from usersuite.platform.grpc.auth.token_cache import CachedJwtVerifier
from usersuite.platform.grpc.errors import Unauthenticated
from usersuite.platform.service.request_context import Principal

SECRET = b"token-cache-test-secret-0123456789abcdef"


class CountingVerifier(JwtVerifier):
    """The real verifier, counting the tokens it is asked to check."""

    def __init__(self) -> None:
        super().__init__(issuer="usersuite", audience="usersuite", leeway_seconds=0,
                         hs256_secret=SECRET)  # fmt: skip
        self.checks = 0

    async def verify(self, token: str) -> Principal:
        self.checks += 1
        return await super().verify(token)


def cached(clock: ManualClock, max_entries: int = 100, max_age: float = 60.0) -> CachedJwtVerifier:
    return CachedJwtVerifier(
        CountingVerifier(), max_entries=max_entries, max_age_seconds=max_age, clock=clock
    )


def checks(verifier: CachedJwtVerifier) -> int:
    inner = verifier._verifier
    assert isinstance(inner, CountingVerifier)
    return inner.checks


def token(subject: str = "ada", ttl: float = 3600) -> str:
    return mint_token(SECRET, subject=subject, scopes=["users.read"], issuer="usersuite",
                      audience="usersuite", ttl_seconds=ttl)  # fmt: skip


async def test_a_token_is_verified_once_then_answered_from_the_cache() -> None:
    verifier = cached(ManualClock(time.time()))
    jwt = token()
    first = await verifier.verify(jwt)
    second = await verifier.verify(jwt)
    assert first == second == Principal("ada", frozenset({"users.read"}), "jwt")
    assert checks(verifier) == 1


async def test_an_entry_ends_after_the_max_age_and_the_token_is_verified_again() -> None:
    clock = ManualClock(time.time())
    verifier = cached(clock, max_age=60)
    jwt = token()
    await verifier.verify(jwt)
    clock.now += 61
    await verifier.verify(jwt)
    assert checks(verifier) == 2


async def test_an_entry_never_outlives_its_token() -> None:
    clock = ManualClock(time.time())
    verifier = cached(clock, max_age=3600)
    jwt = token(ttl=30)
    await verifier.verify(jwt)
    clock.now += 31  # past the token's exp on the cache's clock: verified again, not served
    await verifier.verify(jwt)
    assert checks(verifier) == 2


async def test_the_cache_is_bounded_least_recently_used_out_first() -> None:
    verifier = cached(ManualClock(time.time()), max_entries=2)
    ada, bob, eve = token("ada"), token("bob"), token("eve")
    for jwt in (ada, bob, eve, eve):
        await verifier.verify(jwt)
    assert checks(verifier) == 3
    await verifier.verify(ada)  # pushed out by eve
    assert checks(verifier) == 4


async def test_a_token_that_fails_verification_is_never_remembered() -> None:
    verifier = cached(ManualClock(time.time()))
    forged = token()[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    assert checks(verifier) == 2
