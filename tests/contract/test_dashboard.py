"""The Grafana dashboard is current, every panel query parses, and names only metrics the suite
exports (the metric classes' registries) or the SLO rules record."""

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.prometheus import RULES, prometheus_tool
from tests.support.tools import REPO_ROOT, describe, run
from usersuite.platform.consumer import ConsumerMetrics
from usersuite.platform.db.pool_metrics import PoolCollector
from usersuite.platform.grpc.auth.jwks import JwksMetrics
from usersuite.platform.grpc.interceptors.observability import GrpcMetrics
from usersuite.platform.relay.metrics import RelayMetrics

DASHBOARD = REPO_ROOT / "deploy" / "helm" / "usersuite" / "files" / "grafana-dashboard.json"
GENERATOR = REPO_ROOT / "deploy" / "slo" / "dashboard.py"
# Grafana fills this in; promtool needs a duration.
RATE_INTERVAL = "$__rate_interval"
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def queries() -> Iterator[str]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"].replace(RATE_INTERVAL, "5m")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels or keywords)."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    names = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr)
    return {name for name, call in names if not call and name not in KEYWORDS}


def exported() -> set[str]:
    """Every sample name the suite's metric classes and collectors expose, and the recordings."""
    registry = CollectorRegistry()
    for metrics in (GrpcMetrics, RelayMetrics, JwksMetrics, ConsumerMetrics):
        metrics(registry)
    engine = create_async_engine("postgresql+psycopg://usersuite@127.0.0.1/unused")
    registry.register(PoolCollector(engine))
    names = {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]
    }
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return names | {
        rule["record"] for group in groups for rule in group["rules"] if "record" in rule
    }


def test_dashboard_is_generated_from_its_code() -> None:
    result = run(sys.executable, str(GENERATOR), "--check", cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


def test_every_query_parses(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:query{i}", "expr": q} for i, q in enumerate(queries())]
    assert rules, "the dashboard has no queries"
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(prometheus_tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, describe(result)


def test_every_query_names_only_exported_metrics() -> None:
    known = exported()
    unknown = {q: metric_names(q) - known for q in queries() if metric_names(q) - known}
    assert unknown == {}
    assert set().union(*map(metric_names, queries())), "no metric names found at all"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{le="0.1"}[5m]))', {"a_bucket"}),
        ("x / on (a, b) group_left y > bool 1", {"x", "y"}),
    ],
)
def test_metric_names_finds_the_selected_metrics(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
