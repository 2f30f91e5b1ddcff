"""Services, the headless Service, NetworkPolicies, ServiceMonitor and GRPCRoute."""

import pytest

from tests.chart.helm import FULLNAME, render, template
from tests.chart.manifests import Manifests, egress_ports, egress_to, policies_of
from tests.support.tools import describe
from usersuite.gateway.descriptors import default_descriptor_set, services_in


def test_service_names_the_grpc_port_for_grpc(rendering: Manifests) -> None:
    service = rendering.one("Service")["spec"]
    ports = {p["name"]: p for p in service["ports"]}
    assert set(ports) == {"grpc", "metrics"}
    assert ports["grpc"]["appProtocol"] == "grpc"
    assert ports["grpc"]["targetPort"] == "grpc"
    assert (
        service["selector"]
        == rendering.one("Deployment", "-api")["spec"]["selector"]["matchLabels"]
    )


def test_headless_service_for_client_side_balancing(rendering: Manifests) -> None:
    headless = rendering.one("Service", "-headless")["spec"]
    assert headless["clusterIP"] == "None"
    assert [(p["name"], p["appProtocol"]) for p in headless["ports"]] == [("grpc", "grpc")]


def test_network_policies(renderings: dict[str, Manifests]) -> None:
    assert renderings["default"].all("NetworkPolicy") == []
    production = renderings["production"]
    policies = policies_of(production)
    per_service = {"api", "orders", "billing"} | {
        f"{prefix}{component}"
        for prefix in ("", "orders-", "billing-")
        for component in ("bridge", "migrations")
    }
    assert set(policies) == per_service | {"test"}

    api, bridge = policies["api"], policies["bridge"]
    # PostgreSQL, DNS, and the identity provider's JWKS endpoint (auth.jwksUrl is set).
    assert egress_ports(api) == {5432, 53, 443}
    assert egress_ports(bridge) == {5432, 53, 4222}
    assert egress_ports(policies["migrations"]) == {5432, 53}
    assert egress_ports(policies["test"]) == {50051, 53}  # `helm test` reaches the API only
    assert policies["migrations"]["ingress"] == []
    assert policies["test"]["ingress"] == []
    ingress = {rule["ports"][0]["port"]: rule["from"] for rule in api["ingress"]}
    assert set(ingress) == {"grpc", "metrics"}
    frontend = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "frontend"}}}
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    assert frontend in ingress["grpc"]
    assert monitoring not in ingress["grpc"]
    assert monitoring in ingress["metrics"]
    assert frontend not in ingress["metrics"]
    assert [r["ports"][0]["port"] for r in bridge["ingress"]] == ["metrics"]
    for spec in policies.values():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
    # Egress to the database and NATS goes only where the values name them.
    db = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}}}]
    nats = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nats"}}}]
    for spec in (api, bridge, policies["migrations"]):
        assert egress_to(spec, 5432) == db
    assert egress_to(bridge, 4222) == nats


NO_PEERS = "networkPolicy.enabled=true"
DB_PEERS = "networkPolicy.postgresql.to[0].namespaceSelector.matchLabels.team=db"
NATS_PEERS = "networkPolicy.nats.to[0].namespaceSelector.matchLabels.team=nats"


@pytest.mark.parametrize(
    ("sets", "missing"),
    [
        ((NO_PEERS,), "postgresql"),
        ((NO_PEERS, DB_PEERS), "nats"),
        ((NO_PEERS, NATS_PEERS), "postgresql"),
    ],
)
def test_network_policy_refuses_egress_to_any_address(sets: tuple[str, ...], missing: str) -> None:
    result = template(("minimal.yaml",), sets)
    assert result.returncode != 0, describe(result)
    assert f"networkPolicy.{missing}.to is empty" in result.stderr, describe(result)


def test_network_policy_allows_any_address_when_told() -> None:
    anywhere = "networkPolicy.{}.to[0].ipBlock.cidr=0.0.0.0/0"
    sets = (NO_PEERS, anywhere.format("postgresql"), anywhere.format("nats"))
    bridge = Manifests(render(("minimal.yaml",), sets)).one("NetworkPolicy", "-bridge")["spec"]
    assert (
        egress_to(bridge, 5432) == egress_to(bridge, 4222) == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    )


def test_service_monitor_and_grpc_route(renderings: dict[str, Manifests]) -> None:
    default = renderings["default"]
    assert default.maybe("ServiceMonitor") is None
    assert default.maybe("GRPCRoute") is None
    production = renderings["production"]
    monitor = production.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [
        s["metadata"]["name"]
        for s in production.all("Service")
        if selector.items() <= s["metadata"]["labels"].items()
    ]
    # Every service's API and bridge.
    assert sorted(scraped) == sorted(
        f"{FULLNAME}{suffix}"
        for service in production.services()
        for suffix in (service.service, service.bridge)
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    route = production.one("GRPCRoute")["spec"]
    assert route["parentRefs"] == [{"name": "public", "namespace": "gateway"}]
    # Each gRPC service of the contract to its service's Service; the rest (health,
    # reflection) to users'.
    routed = {
        rule["matches"][0]["method"]["service"]: rule["backendRefs"]
        for rule in route["rules"]
        if "matches" in rule
    }
    assert sorted(routed) == sorted(services_in(default_descriptor_set()))
    for service in production.services():
        name = production.one("Service", service.service)["metadata"]["name"]
        assert [{"name": name, "port": 50051}] in routed.values(), service.name
    assert route["rules"][-1] == {"backendRefs": [{"name": FULLNAME, "port": 50051}]}
