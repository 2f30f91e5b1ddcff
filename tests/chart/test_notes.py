"""NOTES.txt (which `helm template` does not print) tells how to reach the API: rendered here
through a throwaway template in a copy of the chart."""

import shutil
from pathlib import Path

import yaml

from tests.chart.helm import CHART, NAMESPACE, RELEASE, VALUES, helm, kube_version
from tests.support.tools import describe

PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include "usersuite/templates/NOTES.txt" . | quote }}
"""


def notes(tmp_path: Path, *values_files: str) -> str:
    chart = tmp_path / "usersuite"
    if not chart.exists():
        shutil.copytree(CHART, chart)
        (chart / "templates" / "notes-probe.yaml").write_text(PROBE)
    args = [arg for name in values_files for arg in ("--values", str(VALUES / name))]
    result = helm(
        "template", RELEASE, str(chart), "--namespace", NAMESPACE,
        "--kube-version", kube_version(), "--show-only", "templates/notes-probe.yaml", *args,
    )  # fmt: skip
    assert result.returncode == 0, describe(result)
    text: str = yaml.safe_load(result.stdout)["data"]["notes"]
    return text


def test_notes_give_port_forward_and_grpcurl_commands(tmp_path: Path) -> None:
    text = notes(tmp_path, "minimal.yaml")
    assert "kubectl --namespace usersuite port-forward service/users-usersuite 50051:50051" in text
    assert "grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check" in text
    # Reflection is for authenticated callers by default (auth.reflection).
    assert (
        'grpcurl -plaintext -H "authorization: Bearer $TOKEN" 127.0.0.1:50051 describe '
        "user.v1.UserService" in text
    )
    assert "helm test users --namespace usersuite" in text
    assert "WARNING" not in text


def test_notes_warn_without_a_database_and_follow_tls(tmp_path: Path) -> None:
    assert "WARNING: no database URL is set" in notes(tmp_path)
    with_tls = notes(tmp_path, "production.yaml")
    assert "-plaintext" not in with_tls
    assert "-cert client.crt -key client.key" in with_tls
    public = notes(tmp_path, "bridge-replicas.yaml")
    assert "grpcurl -plaintext 127.0.0.1:50051 describe user.v1.UserService" in public


def test_notes_name_the_services_warn_per_database_and_show_the_gateway(tmp_path: Path) -> None:
    bare = notes(tmp_path)
    assert "Services: users, orders, billing." in bare
    for service, value in (("users", "secrets.databaseUrl"),
                           ("orders", "services.orders.databaseUrl"),
                           ("billing", "services.billing.databaseUrl")):  # fmt: skip
        assert f"no database URL is set for {service} ({value}" in bare
    suite = notes(tmp_path, "suite.yaml")
    assert "WARNING" not in suite
    assert "port-forward service/users-usersuite-gateway 8080:80" in suite
    assert "curl -sS" in suite
    assert "gateway" not in notes(tmp_path, "minimal.yaml")
