"""Interop fixtures: one `usersuite serve` on PostgreSQL with authentication on, the gateway in
front of it, the whole suite (users, orders, billing, their bridges and NATS) for the scenario,
and a token."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.clients import auth_env, authenticating_server, scenario_token
from tests.support.gateway import envoy_in_front
from tests.support.processes import UsersuiteProcess
from tests.support.suite import Suite, running_suite
from tests.support.tiers import mark_tier

# Each service of the suite by the gRPC service it serves.
SUITE_SERVICES = {
    "users": "user.v1.UserService",
    "orders": "order.v1.OrderService",
    "billing": "billing.v1.BillingService",
}


@pytest.fixture(scope="session")
def interop_server(
    postgres: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UsersuiteProcess]:
    """One server every client talks to; each client's run works on users of its own."""
    with authenticating_server(postgres, tmp_path_factory.mktemp("interop-server")) as server:
        yield server


@pytest.fixture(scope="session")
def interop_suite(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """Every service with auth on, as the scenario's order flow needs them: billing opens the
    account of each user the scenario creates, and reserves the credit of its orders."""
    with running_suite(postgres, tmp_path_factory.mktemp("interop-suite"), auth_env) as suite:
        yield suite


@pytest.fixture(scope="session")
def gateway_url(
    interop_server: UsersuiteProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Envoy with the gateway's configuration in front of the interop server."""
    with envoy_in_front(interop_server.target, tmp_path_factory.mktemp("gateway")) as envoy:
        yield envoy.url


@pytest.fixture(scope="session")
def suite_gateway_url(
    interop_suite: Suite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real Envoy in front of the whole suite: each service's calls to its own server."""
    upstreams = {
        grpc_service: {"address": interop_suite.target(service)}
        for service, grpc_service in SUITE_SERVICES.items()
    }
    workdir = tmp_path_factory.mktemp("suite-gateway")
    with envoy_in_front(interop_suite.target("users"), workdir, upstreams=upstreams) as envoy:
        yield envoy.url


@pytest.fixture(scope="session")
def token() -> str:
    """A token with the scopes the scenario needs."""
    return scenario_token()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "interop")
