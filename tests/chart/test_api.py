"""The API Deployment: rollout, probes, drain timing, configuration and spread."""

from tests.chart.helm import render
from tests.chart.manifests import Manifests

GRPC_PORT = 50051


def test_rollout_never_lowers_capacity(rendering: Manifests) -> None:
    strategy = rendering.one("Deployment", "-api")["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_probes_are_native_grpc_on_the_health_service_without_tls(rendering: Manifests) -> None:
    api = rendering.api()
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports == {"grpc": GRPC_PORT, "metrics": 9464}
    # With TLS the kubelet's plaintext gRPC probe cannot pass: test_probes_tls performs the
    # HTTP probes rendered then.
    if rendering.settings()["tls"].get("cert_file") is None:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert api[probe]["grpc"] == {"port": GRPC_PORT}, probe
            assert not {"httpGet", "exec", "tcpSocket"} & set(api[probe]), probe
    # Readiness reacts within seconds; liveness waits out a database outage (health then
    # reports NOT_SERVING too), since a restart would not bring the database back.
    ready, live = api["readinessProbe"], api["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    assert ready["periodSeconds"] * ready["failureThreshold"] <= 15
    # The config the server reads listens where the probes and Service point.
    assert rendering.settings()["listen"] == f"0.0.0.0:{GRPC_PORT}"


def test_grace_outlasts_prestop_and_the_servers_own_drain(rendering: Manifests) -> None:
    pod = rendering.one("Deployment", "-api")["spec"]["template"]["spec"]
    pause = rendering.api()["lifecycle"]["preStop"]["sleep"]["seconds"]
    server_grace = rendering.settings()["shutdown_grace_seconds"]
    assert pause > 0
    assert pod["terminationGracePeriodSeconds"] > pause + server_grace


def test_replicas_or_hpa(renderings: dict[str, Manifests]) -> None:
    assert renderings["default"].one("Deployment", "-api")["spec"]["replicas"] == 2
    assert renderings["default"].maybe("HorizontalPodAutoscaler", "-api") is None
    production = renderings["production"]
    # With the HPA on, the Deployment leaves replicas to it (a rollout would reset them).
    assert "replicas" not in production.one("Deployment", "-api")["spec"]
    hpa = production.one("HorizontalPodAutoscaler", "-api")["spec"]
    assert hpa["scaleTargetRef"]["name"].endswith("-api")
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 12)
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_api_pdb_is_optional(renderings: dict[str, Manifests]) -> None:
    assert renderings["default"].maybe("PodDisruptionBudget", "-api") is None
    pdb = renderings["production"].one("PodDisruptionBudget", "-api")["spec"]
    assert pdb["maxUnavailable"] == 1


def test_spread_across_nodes_and_zones(rendering: Manifests) -> None:
    pod = rendering.one("Deployment", "-api")["spec"]["template"]["spec"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    labels = rendering.one("Deployment", "-api")["spec"]["selector"]["matchLabels"]
    for constraint in pod["topologySpreadConstraints"]:
        assert constraint["labelSelector"]["matchLabels"] == labels


def test_config_from_configmap_with_a_checksum_that_rolls_the_pods() -> None:
    def checksums(*sets: str) -> dict[str, str]:
        manifests = Manifests(render(("minimal.yaml",), sets))
        return {
            suffix: manifests.one("Deployment", suffix)["spec"]["template"]["metadata"][
                "annotations"
            ]["checksum/config"]
            for suffix in ("-api", "-bridge")
        }

    before = checksums()
    assert before["-api"] == before["-bridge"]
    assert checksums("logLevel=DEBUG") != before  # a config change rolls both
    assert checksums("extraSettings.limits.global_burst=10") != before
    assert checksums("api.replicaCount=5") == before  # a scale does not


def test_config_file_is_mounted_and_passed(rendering: Manifests) -> None:
    for container in (rendering.api(), rendering.bridge()):
        path = container["args"][container["args"].index("--config") + 1]
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == path)
        pod_volumes = {
            v["name"]: v
            for v in rendering.one("Deployment", f"-{container['name']}")["spec"]["template"][
                "spec"
            ]["volumes"]
        }
        assert (
            pod_volumes[mount["name"]]["configMap"]["name"]
            == rendering.one("ConfigMap")["metadata"]["name"]
        )
        assert mount["subPath"] == "config.toml"


def test_the_api_never_migrates_on_start(rendering: Manifests) -> None:
    """The migration hook owns the schema; the API refuses one that is behind."""
    assert rendering.api()["args"][:2] == ["serve", "users"]
    assert "--migrate" not in rendering.api()["args"]
    assert rendering.settings().get("migrate_on_start", False) is False


def test_workers_follow_the_cpu_limit_unless_set() -> None:
    def workers(*sets: str) -> str:
        args: list[str] = Manifests(render(("minimal.yaml",), sets)).api()["args"]
        assert args[:3] == ["serve", "users", "--workers"], args
        return args[3]

    assert workers("api.resources.limits.cpu=1") == "1"
    assert workers("api.resources.limits.cpu=2500m") == "2"  # whole cores only
    assert workers("api.resources.limits.cpu=500m") == "1"  # at least one
    assert workers("api.resources.limits.cpu=3") == "3"
    assert workers("api.resources.limits.cpu=3", "api.workers=2") == "2"
