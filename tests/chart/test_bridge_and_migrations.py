"""The bridge Deployment and its PDB; the migration Job run by Helm hooks; `helm test`."""

from tests.chart.manifests import Manifests


def test_bridge_probes_metrics_and_resources(rendering: Manifests) -> None:
    bridge = rendering.bridge()
    assert bridge["args"][0] == "bridge"  # one per service database: see test_services
    assert {p["name"]: p["containerPort"] for p in bridge["ports"]} == {"metrics": 9464}
    assert bridge["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert bridge["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert bridge["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert bridge["resources"]["limits"]
    assert bridge["resources"]["requests"]
    service = rendering.one("Service", "-bridge")["spec"]
    assert [p["name"] for p in service["ports"]] == ["metrics"]


def test_bridge_replicas_and_pdb(renderings: dict[str, Manifests]) -> None:
    default = renderings["default"]
    assert default.one("Deployment", "-bridge")["spec"]["replicas"] >= 2
    pdb = default.one("PodDisruptionBudget", "-bridge")["spec"]
    assert pdb["minAvailable"] == 1
    labels = default.one("Deployment", "-bridge")["spec"]["selector"]["matchLabels"]
    assert pdb["selector"]["matchLabels"] == labels
    several = renderings["bridge-replicas"]
    assert several.one("Deployment", "-bridge")["spec"]["replicas"] == 4
    assert several.one("PodDisruptionBudget", "-bridge")["spec"]["minAvailable"] == 1


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(rendering: Manifests) -> None:
    """One hook Job per service's database, each migrating its own service's schema."""
    hook_secret = rendering.maybe("Secret", "-migrations")
    for service in rendering.services():
        job = rendering.one("Job", service.migrations)
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"].split(",")
        assert job["spec"]["backoffLimit"] == 2
        assert job["spec"]["activeDeadlineSeconds"] == 600
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["migrate", service.name]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        # Hooks run before the release's own Secret exists: the URL comes from a hook Secret
        # that is created first, or from the existing Secret.
        ref = container["env"][1]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == service.secret_key
        if hook_secret is None:
            assert ref["name"] == "usersuite-credentials"
        else:
            assert ref["name"] == hook_secret["metadata"]["name"]
            weight = int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"])
            assert weight < int(annotations["helm.sh/hook-weight"])
            hook = hook_secret["metadata"]["annotations"]["helm.sh/hook"]
            assert hook == annotations["helm.sh/hook"]


def test_helm_test_checks_health_and_lists_users_with_a_token(
    renderings: dict[str, Manifests],
) -> None:
    for name, rendering in renderings.items():
        pod = rendering.one("Pod", "-test")
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test", name
        env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
        assert env["SMOKE_TARGET"] == f"{rendering.one('Service')['metadata']['name']}:50051"
        assert ("SMOKE_TOKEN_FILE" in env) == (name == "production"), name
        script = rendering.one("ConfigMap", "-test")["data"]["smoke_test.py"]
        assert "HealthStub" in script
        assert "ListUsers" in script
