"""users, orders and billing side by side: per service an API Deployment with its own database,
Services, a bridge for its database, a migration hook, PDBs, HPAs and NetworkPolicies."""

import base64
from typing import Any

import pytest
import yaml

from tests.chart.helm import FULLNAME, VALUES, render, template
from tests.chart.manifests import (
    SERVICES,
    Manifests,
    ServiceNames,
    egress_ports,
    egress_to,
    env_names,
    policies_of,
)
from tests.support.tools import describe

NATS_PORT, DB_PORT = 4222, 5432


def database_ref(container: dict[str, Any]) -> tuple[str, str]:
    ref = env_names(container)["USERSUITE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def test_every_service_is_deployed_by_default(renderings: dict[str, Manifests]) -> None:
    assert [s.name for s in renderings["default"].services()] == list(SERVICES)


def test_each_api_serves_its_service_from_its_own_database(rendering: Manifests) -> None:
    users = rendering.api()
    for service in rendering.services():
        api = rendering.api(service.name)
        assert api["args"][:2] == ["serve", service.name]
        # The same shape as users': config, probes, ports, security (all from `api`).
        assert api["args"][2:] == users["args"][2:]
        for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe", "resources",
                    "securityContext", "volumeMounts"):  # fmt: skip
            assert api[key] == users[key], f"{service.name}: {key}"
        assert database_ref(api)[1] == service.secret_key
        assert set(env_names(api)) == set(env_names(users))
        deployment = rendering.one("Deployment", service.api)
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert labels["app.kubernetes.io/component"] == service.component
        grpc = rendering.one("Service", service.service)["spec"]
        assert grpc["selector"] == labels
        assert {p["name"]: p["port"] for p in grpc["ports"]} == {"grpc": 50051, "metrics": 9464}


def test_one_bridge_per_service_database(rendering: Manifests) -> None:
    for service in rendering.services():
        bridge = rendering.bridge(service.name)
        # `usersuite bridge SERVICE` relays its database's outbox once that service's schema
        # is current (it checks the service's migration history).
        assert bridge["args"][:2] == ["bridge", service.name]
        assert bridge["args"][2:] == rendering.bridge()["args"][2:]
        assert database_ref(bridge)[1] == service.secret_key
        assert set(env_names(bridge)) == {"USERSUITE_DATABASE_URL"}
        selector = rendering.one("Deployment", service.bridge)["spec"]["selector"]["matchLabels"]
        assert rendering.one("Service", service.bridge)["spec"]["selector"] == selector
        pdb = rendering.one("PodDisruptionBudget", service.bridge)["spec"]
        assert (pdb["minAvailable"], pdb["selector"]["matchLabels"]) == (1, selector)
    selectors = [
        rendering.one("Deployment", s.bridge)["spec"]["selector"]["matchLabels"]
        for s in rendering.services()
    ]
    assert len({tuple(sorted(s.items())) for s in selectors}) == len(selectors)


def test_replicas_per_service(renderings: dict[str, Manifests]) -> None:
    suite = renderings["suite"]
    replicas = {s.name: suite.one("Deployment", s.api)["spec"]["replicas"] for s in
                suite.services()}  # fmt: skip
    assert replicas == {"users": 3, "orders": 2, "billing": 1}  # orders: api.replicaCount
    production = renderings["production"]
    for service in production.services():
        assert "replicas" not in production.one("Deployment", service.api)["spec"]
        hpa = production.one("HorizontalPodAutoscaler", service.api)["spec"]
        assert hpa["scaleTargetRef"]["name"] == f"{FULLNAME}{service.api}"
        assert production.one("PodDisruptionBudget", service.api)["spec"]["maxUnavailable"] == 1


def test_each_database_url_is_a_key_of_the_secret(renderings: dict[str, Manifests]) -> None:
    suite = renderings["suite"]
    urls: dict[str, str] = {
        name: values["databaseUrl"]
        for name, values in yaml.safe_load((VALUES / "suite.yaml").read_text())["services"].items()
    }
    for secret_suffix in ("", "-migrations"):
        data = suite.one("Secret", secret_suffix)["data"]
        for name, url in urls.items():
            assert base64.b64decode(data[ServiceNames(name).secret_key]).decode() == url
    plain = yaml.safe_dump([o for o in suite.objects if o["kind"] != "Secret"], width=10_000)
    for url in urls.values():
        assert url not in plain
    existing = renderings["existing-secret"]
    for service in existing.services():
        for container in (existing.api(service.name), existing.bridge(service.name)):
            assert database_ref(container) == ("usersuite-credentials", service.secret_key)


def test_users_url_falls_back_to_the_first_chart_value(renderings: dict[str, Manifests]) -> None:
    """secrets.databaseUrl, the single-service chart's value, still sets users' database."""
    data = renderings["bridge-replicas"].one("Secret")["data"]
    assert base64.b64decode(data["database-url"]).decode().endswith("/usersuite")
    assert "orders-database-url" not in data  # unset: left out, as before


def test_without_users_there_is_no_helm_test_to_run() -> None:
    """`helm test` calls users; without it the rest of the suite still renders whole."""
    rendering = Manifests(render(("suite.yaml",), ("services.users.enabled=false",)))
    assert [s.name for s in rendering.services()] == ["orders", "billing"]
    assert rendering.maybe("Pod", "-test") is None
    assert "test" not in policies_of(rendering)
    assert rendering.maybe("Deployment", "-gateway") is not None


@pytest.mark.parametrize("disabled", ["orders", "billing"])
def test_a_disabled_service_leaves_nothing_behind(disabled: str) -> None:
    rendering = Manifests(render(("suite.yaml",), (f"services.{disabled}.enabled=false",)))
    assert [s.name for s in rendering.services()] == [s for s in SERVICES if s != disabled]
    names = [o["metadata"]["name"] for o in rendering.objects]
    assert not [n for n in names if n.startswith(f"{FULLNAME}-{disabled}")], names
    assert ServiceNames(disabled).secret_key not in rendering.one("Secret")["data"]
    assert f"{FULLNAME}-{disabled}" not in str(policies_of(rendering)["gateway"]["egress"])


def test_network_policies_per_service(renderings: dict[str, Manifests]) -> None:
    suite = renderings["suite"]
    policies = policies_of(suite)
    nats = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nats"}}}]
    db = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "db"}}}]
    for service in suite.services():
        api = policies[service.component]
        # users publishes through its outbox only; orders and billing consume from NATS too.
        assert egress_ports(api) == {53, DB_PORT} | ({NATS_PORT} if service.name != "users"
                                                       else set())  # fmt: skip
        assert egress_to(api, DB_PORT) == db
        if service.name != "users":
            assert egress_to(api, NATS_PORT) == nats
        bridge = policies[service.bridge.removeprefix("-")]
        assert egress_ports(bridge) == {53, DB_PORT, NATS_PORT}
        migrations = policies[service.migrations.removeprefix("-")]
        assert egress_ports(migrations) == {53, DB_PORT}
        assert migrations["ingress"] == []


def test_the_gateway_may_call_every_service_and_nothing_else(
    renderings: dict[str, Manifests],
) -> None:
    suite = renderings["suite"]
    policies = policies_of(suite)
    gateway = policies["gateway"]
    gateway_labels = suite.one("Deployment", "-gateway")["spec"]["template"]["metadata"]["labels"]
    called = []
    for rule in gateway["egress"]:
        if rule["ports"] == [{"port": 50051, "protocol": "TCP"}]:
            [peer] = rule["to"]
            called.append(peer["podSelector"]["matchLabels"])
    assert egress_ports(gateway) == {53, 50051}  # no database, no NATS
    for service in suite.services():
        labels = suite.one("Deployment", service.api)["spec"]["selector"]["matchLabels"]
        assert labels in called, service.name
        # The API's gRPC ingress admits the gateway's pods (same namespace).
        [grpc_rule] = [r for r in policies[service.component]["ingress"]
                       if r["ports"][0]["port"] == "grpc"]  # fmt: skip
        assert any(matches(peer, gateway_labels) for peer in grpc_rule["from"]), service.name
    assert len(called) == len(suite.services())
    # The gateway's HTTP port admits the ingress controller's namespace; its admin port (which
    # takes commands) only the scrapers'.
    ingress = {rule["ports"][0]["port"]: rule["from"] for rule in gateway["ingress"]}
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name":
                                                         "ingress-nginx"}}}  # fmt: skip
    assert controller in ingress["http"]
    assert ingress["admin"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def matches(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    """A NetworkPolicy peer without a namespaceSelector admits pods of its own namespace whose
    labels its podSelector matches (`{}` matches all)."""
    if "namespaceSelector" in peer or "podSelector" not in peer:
        return False
    wanted: dict[str, str] = peer["podSelector"].get("matchLabels", {})
    return wanted.items() <= labels.items()


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("services.shipping.enabled=true", "shipping"),
        ("services.orders.replicaCuont=2", "replicaCuont"),
        ("services.billing.databaseUrl=mysql://billing@db/billing", "databaseUrl"),
    ],
)
def test_the_schema_knows_the_services(setting: str, complaint: str) -> None:
    result = template(("minimal.yaml",), (setting,))
    assert result.returncode != 0, describe(result)
    assert complaint in result.stderr, describe(result)
