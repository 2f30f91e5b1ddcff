"""The chart's optional PrometheusRule and Grafana dashboard ConfigMap: rendered when enabled,
carrying the generated rules (promtool accepts the rendered copy) and dashboard unchanged."""

import json
from pathlib import Path

import yaml

from tests.chart.helm import CHART
from tests.chart.manifests import Manifests
from tests.support.prometheus import RULES, prometheus_tool
from tests.support.tools import describe, run

DASHBOARD = CHART / "files" / "grafana-dashboard.json"


def test_default_renders_neither(renderings: dict[str, Manifests]) -> None:
    assert renderings["default"].maybe("PrometheusRule") is None
    assert renderings["default"].maybe("ConfigMap", "-dashboard") is None


def test_prometheus_rule_carries_the_generated_rules(
    renderings: dict[str, Manifests], tmp_path: Path
) -> None:
    rule = renderings["production"].one("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    rendered = tmp_path / "rendered-rules.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    result = run(prometheus_tool("promtool"), "check", "rules", str(rendered))
    assert result.returncode == 0, describe(result)


def test_dashboard_config_map_is_labelled_for_the_grafana_sidecar(
    renderings: dict[str, Manifests],
) -> None:
    config_map = renderings["production"].one("ConfigMap", "-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "usersuite"}
    assert json.loads(config_map["data"]["usersuite.json"]) == json.loads(DASHBOARD.read_text())
