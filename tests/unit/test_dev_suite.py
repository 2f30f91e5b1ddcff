"""`usersuite dev` runs every service: the first on the given settings, the next on the
following ports with a SQLite file each; Envoy gets an upstream per service."""

from pathlib import Path
from typing import Any

from usersuite.cli import common
from usersuite.cli.dev_suite import database_file, service_settings, shifted, suite_settings
from usersuite.gateway.beside import with_upstreams
from usersuite.platform.config import Settings


def dev(tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        mode="dev",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'usersuite.db'}",
        dev={"dir": tmp_path},
        **values,
    )


def test_ports_follow_the_first_services_and_a_free_port_stays_free() -> None:
    assert shifted("127.0.0.1:50051", 2) == "127.0.0.1:50053"
    assert shifted("[::1]:9464", 1) == "[::1]:9465"
    assert shifted("127.0.0.1:0", 2) == "127.0.0.1:0"


def test_the_first_service_has_the_given_settings_the_next_their_own(tmp_path: Path) -> None:
    settings = dev(tmp_path)
    assert service_settings(settings, "users", 0) is settings
    orders = service_settings(settings, "orders", 1)
    assert orders.listen == "127.0.0.1:50052"
    assert orders.metrics_listen == "127.0.0.1:9465"
    assert orders.database_url is not None
    assert orders.database_url.get_secret_value() == f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    assert database_file("users") == "usersuite.db"


def test_every_service_of_the_cli_runs_in_dev(tmp_path: Path) -> None:
    services = suite_settings(dev(tmp_path))
    assert tuple(services) == common.SERVICE_NAMES
    urls = [s.database_url.get_secret_value() for s in services.values() if s.database_url]
    assert len(set(urls)) == len(services)


def test_the_gateway_gets_an_upstream_per_service_unless_one_is_configured(
    tmp_path: Path,
) -> None:
    pinned = {"address": "orders.internal:443"}
    settings = dev(tmp_path, gateway={"upstreams": {"order.v1.OrderService": pinned}})
    running = {
        "user.v1.UserService": "127.0.0.1:50051",
        "order.v1.OrderService": "127.0.0.1:50052",
        "billing.v1.BillingService": "127.0.0.1:50053",
    }
    upstreams = with_upstreams(settings, running).gateway.upstreams
    assert {name: u.address for name, u in upstreams.items()} == {
        "user.v1.UserService": "127.0.0.1:50051",
        "order.v1.OrderService": "orders.internal:443",
        "billing.v1.BillingService": "127.0.0.1:50053",
    }
