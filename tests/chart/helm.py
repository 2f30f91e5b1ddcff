"""Real Helm on the chart: lint and template with the value sets under tests/chart/values."""

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import child_env
from tests.support.tools import describe, which

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "usersuite"
VALUES = Path(__file__).resolve().parent / "values"
Run = subprocess.CompletedProcess[str]
RELEASE = "users"
NAMESPACE = "usersuite"
FULLNAME = f"{RELEASE}-usersuite"

# The default values and the value sets under values/ (suite: the services behind the gateway).
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "default": (),
    "minimal": ("minimal.yaml",),
    "production": ("production.yaml",),
    "existing-secret": ("existing-secret.yaml",),
    "bridge-replicas": ("bridge-replicas.yaml",),
    "suite": ("suite.yaml",),
}


def helm(*args: str) -> Run:
    return subprocess.run(
        [which("helm"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(),
    )


def values_args(files: tuple[str, ...], sets: tuple[str, ...] = ()) -> list[str]:
    args = [arg for name in files for arg in ("--values", str(VALUES / name))]
    return args + [arg for value in sets for arg in ("--set", value)]


def kube_version() -> str:
    """The oldest Kubernetes the chart allows (Chart.yaml's kubeVersion, e.g. `>=1.30.0-0`).

    Helm built with `go install` assumes Kubernetes 1.20 unless told otherwise."""
    match = re.fullmatch(r">=\s*(\d+\.\d+\.\d+)(-0)?", chart_metadata()["kubeVersion"])
    assert match, f"kubeVersion is not a lower bound: {chart_metadata()['kubeVersion']}"
    return match.group(1)


def lint(files: tuple[str, ...]) -> Run:
    return helm(
        "lint", "--strict", str(CHART), "--namespace", NAMESPACE,
        "--kube-version", kube_version(), *values_args(files),
    )  # fmt: skip


def template(files: tuple[str, ...], sets: tuple[str, ...] = ()) -> Run:
    return helm(
        "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
        "--kube-version", kube_version(), *values_args(files, sets),
    )  # fmt: skip


def render(files: tuple[str, ...], sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rendered manifests (hooks and test resources included), as parsed YAML."""
    result = template(files, sets)
    assert result.returncode == 0, f"helm template failed\n{describe(result)}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def chart_metadata() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return loaded
