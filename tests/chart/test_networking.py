"""Services, the headless Service, NetworkPolicies, ServiceMonitor and GRPCRoute."""

from typing import Any

from tests.chart.helm import FULLNAME
from tests.chart.manifests import Manifests


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
    policies = {p["metadata"]["name"].rsplit("-", 1)[1]: p["spec"] for p in production.all(
        "NetworkPolicy")}  # fmt: skip
    assert set(policies) == {"api", "bridge", "migrations", "test"}

    def egress_ports(spec: dict[str, Any]) -> set[int]:
        return {p["port"] for rule in spec["egress"] for p in rule["ports"]}

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
    assert sorted(scraped) == [FULLNAME, f"{FULLNAME}-bridge"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    route = production.one("GRPCRoute")["spec"]
    assert route["parentRefs"] == [{"name": "public", "namespace": "gateway"}]
    assert route["rules"][0]["backendRefs"] == [
        {"name": production.one("Service")["metadata"]["name"], "port": 50051}
    ]
