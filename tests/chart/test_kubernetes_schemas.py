"""Every rendering validates offline against the Kubernetes OpenAPI schemas (kubernetes-validate,
strict: unknown fields fail) of the oldest Kubernetes the chart allows and of the newest known."""

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

from tests.chart.helm import kube_version
from tests.chart.manifests import Manifests

# Custom resources that Kubernetes itself has no schema for; the chart renders them only when
# asked (serviceMonitor, prometheusRule, grpcRoute, gateway.httpRoute enabled), and the tests of
# each check their shape.
CUSTOM_RESOURCES = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("gateway.networking.k8s.io/v1", "GRPCRoute"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


@pytest.mark.parametrize("version", [kube_version(), latest_version()])
def test_renderings_match_kubernetes_schemas(rendering: Manifests, version: str) -> None:
    custom = []
    for obj in rendering.objects:
        kind = (obj["apiVersion"], obj["kind"])
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except SchemaNotFoundError:
            assert kind in CUSTOM_RESOURCES, f"no Kubernetes {version} schema for {kind}"
            custom.append(kind)
        except kubernetes_validate.ValidationError as exc:
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            pytest.fail(f"{name} is invalid for Kubernetes {version}: {exc.message} at {exc.path}")
    assert len(custom) == len(set(custom)), custom


def test_validation_catches_a_bad_manifest(renderings: dict[str, Manifests]) -> None:
    """The validator is strict: a misplaced field in a rendered Deployment fails."""
    deployment = renderings["default"].one("Deployment", "-api")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kube_version(), strict=True)
