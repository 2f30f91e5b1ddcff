"""Each SDK client loads its own package's published service config: its services' names, its
timeout, retries for UNAVAILABLE on the reads."""

import json

import pytest

from tests.support.tools import REPO_ROOT
from usersuite.client import BillingClient, OrderClient, UserClient
from usersuite.client.base import ServiceClient
from usersuite.client.channel import default_timeout, load_service_config


@pytest.mark.parametrize(
    ("client", "service"),
    [
        (UserClient, "user.v1.UserService"),
        (OrderClient, "order.v1.OrderService"),
        (BillingClient, "billing.v1.BillingService"),
    ],
)
def test_a_client_loads_its_packages_service_config(
    client: type[ServiceClient], service: str
) -> None:
    config = load_service_config(package=client.package)
    published = REPO_ROOT.joinpath("proto", *client.package.split("."), "service_config.json")
    assert config == json.loads(published.read_text())
    names = {name["service"] for method in config["methodConfig"] for name in method["name"]}
    assert names == {service}
    assert default_timeout(config) > 0


async def test_a_clients_default_deadline_is_its_service_configs_timeout() -> None:
    async with OrderClient("127.0.0.1:1", token="t") as orders:
        assert orders.timeout == 5.0
