"""Properties every pod of the chart must have: security context, resources, no API token,
and the image's fixed user."""

import re

from tests.chart.helm import REPO_ROOT
from tests.chart.manifests import Manifests


def dockerfile_user() -> tuple[int, int]:
    """The uid:gid of the image's USER instruction, which the pods must match."""
    text = (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    users = re.findall(r"^USER (\d+):(\d+)$", text, flags=re.MULTILINE)
    assert len(users) == 1, f"expected one numeric USER uid:gid in the Dockerfile: {users}"
    return int(users[0][0]), int(users[0][1])


def test_every_pod_is_locked_down(rendering: Manifests) -> None:
    uid, gid = dockerfile_user()
    assert uid >= 10000
    specs = rendering.pod_specs()
    # Per service an API, a bridge and a migration Job; the helm test Pod; the gateway if on.
    gateway = rendering.maybe("Deployment", "-gateway") is not None
    assert len(specs) == 3 * len(rendering.services()) + 1 + gateway, sorted(specs)
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert (pod["runAsUser"], pod["runAsGroup"]) == (uid, gid), name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            sc = container["securityContext"]
            where = f"{name} container {container['name']}"
            assert sc["runAsNonRoot"] is True, where
            assert (sc["runAsUser"], sc["runAsGroup"]) == (uid, gid), where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            resources = container["resources"]
            assert set(resources["requests"]) == {"cpu", "memory"}, where
            assert set(resources["limits"]) == {"cpu", "memory"}, where
            # The read-only root leaves /tmp (the image's declared volume) as the one writable path.
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1, where
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[tmp[0]["name"]], where


def test_images_are_pinned(renderings: dict[str, Manifests]) -> None:
    default = renderings["default"].api()["image"]
    assert default == "usersuite:0.1.0", default  # the chart's appVersion, never `latest`
    production = renderings["production"]
    for spec in production.pod_specs().values():
        for container in spec["containers"]:
            assert re.fullmatch(r"\S+:0\.1\.0@sha256:[0-9a-f]{64}", container["image"]), container


def test_service_account_is_optional_and_never_mounts_a_token(
    renderings: dict[str, Manifests],
) -> None:
    assert renderings["default"].maybe("ServiceAccount") is None
    account = renderings["production"].one("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["annotations"] == {"iam.example.com/role": "usersuite"}
    for spec in renderings["production"].pod_specs().values():
        assert spec["serviceAccountName"] == account["metadata"]["name"]
