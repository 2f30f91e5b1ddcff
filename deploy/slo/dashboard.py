"""The Grafana dashboard as code: rows of panels over the suite's metrics and SLO recordings.

Writes the chart's copy (files/grafana-dashboard.json), which the chart ships as a ConfigMap
for Grafana's dashboard sidecar. `make slo` regenerates it; tests/contract/test_dashboard.py
checks that it is current, that every query parses (promtool) and names only metrics the suite
exports or the rules record.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parents[1] / "deploy" / "helm" / "usersuite" / "files" / "grafana-dashboard.json"
WINDOW = "$__rate_interval"
SLO_IDS = "on (sloth_id, sloth_service, sloth_slo) group_left"


def slo_names() -> list[str]:
    return [slo["name"] for slo in yaml.safe_load((HERE / "slos.yaml").read_text())["slos"]]


def panel(
    title: str, unit: str, *queries: tuple[str, str], kind: str = "timeseries"
) -> dict[str, Any]:
    """A panel of `kind` plotting (query, legend) pairs."""
    return {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def objectives() -> list[dict[str, Any]]:
    panels = []
    for name in slo_names():
        slo = f'sloth_slo="{name}"'
        budget = f"/ {SLO_IDS}\nslo:error_budget:ratio{{{slo}}}"
        panels += [
            panel(f"{name}: error budget left (30d)", "percentunit",
                  (f"slo:period_error_budget_remaining:ratio{{{slo}}}", "{{grpc_service}}"),
                  kind="stat"),
            panel(f"{name}: burn rate (1 = the budget lasts 30 days)", "none",
                  (f"slo:sli_error:ratio_rate5m{{{slo}}}\n{budget}", "5m {{grpc_service}}"),
                  (f"slo:sli_error:ratio_rate1h{{{slo}}}\n{budget}", "1h {{grpc_service}}")),
        ]  # fmt: skip
    return panels


def api() -> list[dict[str, Any]]:
    handled = 'grpc_server_handled_total{grpc_type="unary"}'
    buckets = 'grpc_server_handling_seconds_bucket{grpc_type="unary"}'
    return [
        panel("Calls per second by method and code", "reqps",
              (f"sum by (grpc_method, grpc_code) (rate({handled}[{WINDOW}]))",
               "{{grpc_method}} {{grpc_code}}")),
        panel("Latency p99 by method", "s",
              (f"histogram_quantile(0.99, sum by (grpc_method, le) (rate({buckets}[{WINDOW}])))",
               "{{grpc_method}}")),
        panel("Latency p50 by method", "s",
              (f"histogram_quantile(0.5, sum by (grpc_method, le) (rate({buckets}[{WINDOW}])))",
               "{{grpc_method}}")),
        panel("Database connections", "short",
              ("sum(usersuite_db_pool_checked_out)", "in use"),
              ("sum(usersuite_db_pool_size)", "pool size")),
    ]  # fmt: skip


def relay() -> list[dict[str, Any]]:
    return [
        panel("Commit to JetStream ack, p99", "s",
              ("histogram_quantile(0.99, sum by (le) "
               f"(rate(usersuite_outbox_commit_to_ack_seconds_bucket[{WINDOW}])))", "p99")),
        panel("Backlog and oldest waiting event", "short",
              ("sum(usersuite_outbox_backlog)", "backlog"),
              ("max(usersuite_outbox_oldest_pending_age_seconds)", "oldest (s)"),
              ("max(usersuite_outbox_parked)", "parked")),
        panel("Published per second by event type", "ops",
              (f"sum by (event_type) (rate(usersuite_outbox_published_total[{WINDOW}]))",
               "{{event_type}}")),
        panel("Publish failures per second by kind", "ops",
              (f"sum by (kind) (rate(usersuite_outbox_publish_failures_total[{WINDOW}]))",
               "{{kind}}")),
        panel("Partitions held per bridge", "short",
              ("sum by (instance) (usersuite_bridge_partitions)", "{{instance}}")),
    ]  # fmt: skip


def consumers() -> list[dict[str, Any]]:
    return [
        panel("Dead letters per second by consumer", "ops",
              (f"sum by (consumer) (rate(usersuite_consumer_dead_letters_total[{WINDOW}]))",
               "{{consumer}}")),
        panel("JWKS fetch failures and stale refusals", "short",
              (f"sum(increase(usersuite_jwks_fetch_failures_total[{WINDOW}]))", "fetch failures"),
              (f"sum(increase(usersuite_jwks_stale_rejections_total[{WINDOW}]))",
               "stale refusals")),
        {"type": "text", "title": "Saga outcomes",
         "options": {"mode": "markdown",
                     "content": "The order saga does not exist yet: its outcomes and deadline "
                                "objective join this row when it does (docs/runbook.md)."}},
    ]  # fmt: skip


def layout(rows: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Rows of panels, two to a line (Grafana's 24-column grid), ids in order."""
    panels: list[dict[str, Any]] = []
    y = 0
    for title, members in rows:
        panels.append({"type": "row", "title": title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})  # fmt: skip
        y += 1
        for i, member in enumerate(members):
            member["gridPos"] = {"h": 8, "w": 12, "x": 12 * (i % 2), "y": y + 8 * (i // 2)}
            panels.append(member)
        y += 8 * ((len(members) + 1) // 2)
    for number, member in enumerate(panels, start=1):
        member["id"] = number
    return panels


def render() -> str:
    dashboard = {
        "uid": "usersuite",
        "title": "usersuite",
        "tags": ["usersuite", "slo"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus",
             "label": "Prometheus"},
        ]},
        "panels": layout([
            ("Objectives", objectives()),
            ("API", api()),
            ("Relay", relay()),
            ("Consumers, auth and sagas", consumers()),
        ]),
    }  # fmt: skip
    return json.dumps(dashboard, indent=2) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail when --output is not current")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            print(f"{args.output} is not current: run make slo", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
