"""The failed-verification budgets: per (address, credential), for the server, spent up front."""

import pytest

from usersuite.platform.config.groups import LimitSettings
from usersuite.platform.grpc.errors import RateLimited
from usersuite.platform.grpc.interceptors.rate_limit import FailedAuthLimiter

LIMITS = LimitSettings(
    auth_failure_burst=2,
    auth_failure_rate_per_second=0.001,
    auth_failure_global_burst=5,
    auth_failure_global_rate_per_second=0.001,
)


def limiter() -> FailedAuthLimiter:
    return FailedAuthLimiter(LIMITS, clock=lambda: 100.0)


def test_verifications_in_flight_cannot_overdraw_a_credential_budget() -> None:
    failures = limiter()
    for _ in range(2):  # not yet settled: the budget is already spent
        failures.reserve("ipv4:127.0.0.1", "bad")
    with pytest.raises(RateLimited) as caught:
        failures.reserve("ipv4:127.0.0.1", "bad")
    assert caught.value.limit == "failed authentication"
    failures.reserve("ipv4:127.0.0.1", "another")  # same address, another credential
    failures.reserve("ipv4:10.0.0.1", "bad")  # same credential, another address


def test_good_credentials_give_their_reservation_back() -> None:
    failures = limiter()
    for _ in range(20):
        failures.refund(failures.reserve("ipv4:127.0.0.1", "good"))


def test_the_server_budget_caps_rotating_credentials() -> None:
    failures = limiter()
    for n in range(5):
        failures.reserve("ipv4:127.0.0.1", f"bad-{n}")
    with pytest.raises(RateLimited) as caught:
        failures.reserve("ipv4:127.0.0.1", "bad-5")
    assert caught.value.limit == "failed authentication (server)"
