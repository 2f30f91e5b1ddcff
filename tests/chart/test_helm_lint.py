"""`helm lint --strict` and `helm template` accept the defaults and every value set, and the
values schema turns away a typo and a wrong type at install time."""

import pytest

from tests.chart.helm import VALUE_SETS, chart_metadata, lint, template
from tests.support.tools import describe


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict_passes(name: str) -> None:
    result = lint(VALUE_SETS[name])
    assert result.returncode == 0, f"helm lint --strict failed for {name}\n{describe(result)}"
    assert "0 chart(s) failed" in result.stdout, describe(result)


def test_chart_metadata() -> None:
    chart = chart_metadata()
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"]
    assert chart["kubeVersion"].startswith(">=1.")


@pytest.mark.parametrize(
    ("values_file", "complaint"),
    [
        ("typo.yaml", "replicaCuont"),
        ("wrong-type.yaml", "'/tls/enabled': got string, want boolean"),
    ],
)
def test_schema_rejects_bad_values(values_file: str, complaint: str) -> None:
    linted = lint(("minimal.yaml", values_file))
    assert linted.returncode != 0, f"helm lint accepted {values_file}\n{describe(linted)}"
    assert "values don't meet the specifications of the schema" in linted.stdout + linted.stderr
    assert complaint in linted.stdout + linted.stderr, describe(linted)
    rendered = template(("minimal.yaml", values_file))
    assert rendered.returncode != 0, f"helm template accepted {values_file}\n{describe(rendered)}"
    assert complaint in rendered.stderr, describe(rendered)


def test_bridge_pdb_refuses_a_single_bridge() -> None:
    """One bridge with a PDB that keeps one up would block every node drain."""
    result = template(("minimal.yaml",), ("bridge.replicaCount=1",))
    assert result.returncode != 0, describe(result)
    assert "bridge.replicaCount < 2" in result.stderr, describe(result)
    assert template(("minimal.yaml",), ("bridge.replicaCount=1", "bridge.pdb.enabled=false")
                    ).returncode == 0  # fmt: skip
