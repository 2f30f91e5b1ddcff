"""The chart README's values table is generated from values.yaml and kept in sync."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.chart.helm import CHART, REPO_ROOT

GENERATOR = REPO_ROOT / "tools" / "chart_values_table.py"


def check(chart: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--chart", str(chart)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_readme_table_matches_values() -> None:
    result = check(CHART)
    assert result.returncode == 0, result.stderr


def test_check_fails_when_values_change(tmp_path: Path) -> None:
    chart = tmp_path / "usersuite"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("replicaCount: 2", "replicaCount: 3", 1))
    result = check(chart)
    assert result.returncode == 1
    assert "out of date" in result.stderr


def test_check_fails_on_an_undocumented_value(tmp_path: Path) -> None:
    chart = tmp_path / "usersuite"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text() + "undocumented: 1\n")
    result = check(chart)
    assert result.returncode == 1
    assert "undocumented" in result.stderr
