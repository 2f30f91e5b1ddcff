"""checkov (pinned, in its own venv under .bin) finds no failed check in any rendering, except
the checks tests/chart/checkov.yaml skips, each with its reason."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import REPO_ROOT, VALUE_SETS, template
from tests.support.processes import child_env
from tests.support.tools import describe

CHECKOV = REPO_ROOT / ".bin" / "checkov-venv" / "bin" / "checkov"
CONFIG = Path(__file__).resolve().parent / "checkov.yaml"


def checkov(directory: Path) -> list[dict[str, Any]]:
    """checkov's JSON reports (one per framework) for the manifests in `directory`."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make chart`")
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(CONFIG), "--directory", str(directory)],
        capture_output=True, text=True, timeout=900, check=False,
        # No calls home: no guideline download, no version check.
        env=child_env(BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE"),
    )  # fmt: skip
    assert result.returncode in (0, 1), f"checkov failed to run\n{result.stderr[-3000:]}"
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("rendered")
    for name, files in VALUE_SETS.items():
        rendered = template(files)
        assert rendered.returncode == 0, describe(rendered)
        (directory / f"{name}.yaml").write_text(rendered.stdout)
    return checkov(directory)


def test_no_failed_checks(reports: list[dict[str, Any]]) -> None:
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} in {check['file_path']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    passed = sum(report["summary"]["passed"] for report in reports)
    assert passed > 100, f"checkov passed only {passed} checks: did it scan the manifests?"


def test_every_skipped_check_has_a_reason() -> None:
    text = CONFIG.read_text()
    lines = text.splitlines()
    for check in yaml.safe_load(text)["skip-check"]:
        index = next(i for i, line in enumerate(lines) if re.fullmatch(rf"\s*- {check}", line))
        assert lines[index - 1].strip().startswith("#"), f"{check} is skipped without a reason"
