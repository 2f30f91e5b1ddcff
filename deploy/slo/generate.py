"""Prometheus rules from the SLO spec: Sloth-style recordings and multi-window burn-rate alerts.

Reads slos.yaml (Sloth's prometheus/v1 format) and alerts.yaml next to this file and writes one
Prometheus rule file, the chart's copy. Each SLO gets its SLI error ratio over every window the
alerts need, its objective and remaining budget, and a page and a ticket alert that fire on the
Google SRE workbook's burn-rate pairs (the windows and factors Sloth uses). `--scale N` divides
every window and `for` by N: the end-to-end test runs the same rules in seconds instead of hours.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SPEC = HERE / "slos.yaml"
ALERTS = HERE / "alerts.yaml"
OUTPUT = HERE.parents[1] / "deploy" / "helm" / "usersuite" / "files" / "prometheus-rules.yaml"
RUNBOOK_URL = "https://github.com/usersuite/usersuite/blob/main/docs/runbook.md"
PERIOD = "30d"

# (severity, [(long window, short window, burn factor), ...]): page on 2% of a 30-day budget
# spent in an hour or 5% in six hours; ticket on 10% in a day or 10% in three days.
BURN_ALERTS = {
    "page": [("1h", "5m", 14.4), ("6h", "30m", 6.0)],
    "ticket": [("1d", "2h", 3.0), ("3d", "6h", 1.0)],
}
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", duration)
    if match is None:
        raise ValueError(f"not a simple Prometheus duration: {duration}")
    return int(match[1]) * UNITS[match[2]]


WINDOWS = sorted(
    {w for pairs in BURN_ALERTS.values() for pair in pairs for w in pair[:2]}, key=seconds
)


def scaled(duration: str, scale: int) -> str:
    """`duration` divided by `scale`, in milliseconds when it no longer fits whole units."""
    if scale == 1:
        return duration
    return f"{round(seconds(duration) * 1000 / scale)}ms"


def anchor(alert: str) -> str:
    """The runbook entry of an alert: a `### <alert>` heading, as GitHub anchors it."""
    return f"{RUNBOOK_URL}#{alert.lower()}"


def slo_group(
    service: str, labels: dict[str, str], slo: dict[str, Any], scale: int
) -> dict[str, Any]:
    name = slo["name"]
    ids = {"sloth_id": f"{service}-{name}", "sloth_service": service, "sloth_slo": name}
    selector = ",".join(f'{key}="{value}"' for key, value in ids.items())
    events = slo["sli"]["events"]
    budget = round(1 - slo["objective"] / 100, 6)
    rules: list[dict[str, Any]] = []
    for window in WINDOWS:
        query = f"({events['error_query']})\n/\n({events['total_query']})"
        rules.append({
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": query.replace("{{.window}}", scaled(window, scale)),
            "labels": {**labels, **ids, "sloth_window": window},
        })  # fmt: skip
    period = scaled(PERIOD, scale)
    rules += [
        {
            "record": f"slo:sli_error:ratio_rate{PERIOD}",
            "expr": f"sum_over_time(slo:sli_error:ratio_rate5m{{{selector}}}[{period}])\n"
            f"/ ignoring (sloth_window)\n"
            f"count_over_time(slo:sli_error:ratio_rate5m{{{selector}}}[{period}])",
            "labels": {**labels, **ids, "sloth_window": PERIOD},
        },
        {"record": "slo:objective:ratio", "expr": f"vector({slo['objective'] / 100})",
         "labels": {**labels, **ids}},
        {"record": "slo:error_budget:ratio", "expr": f"vector({budget})",
         "labels": {**labels, **ids}},
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:sli_error:ratio_rate{PERIOD}{{{selector}}}\n"
            f"/ on (sloth_id, sloth_service, sloth_slo) group_left\n"
            f"slo:error_budget:ratio{{{selector}}}",
            "labels": {**labels, **ids},
        },
    ]  # fmt: skip
    alerting = slo["alerting"]
    for severity, pairs in BURN_ALERTS.items():
        conditions = [
            "\nand\n".join(
                f"max(slo:sli_error:ratio_rate{window}{{{selector}}} > ({factor} * {budget})) "
                "without (sloth_window)"
                for window in (long, short)
            )
            for long, short, factor in pairs
        ]
        rules.append({
            "alert": alerting["name"],
            "expr": "\nor\n".join(f"({condition})" for condition in conditions),
            "labels": {
                **labels, **alerting[f"{severity}_alert"]["labels"], "sloth_severity": severity,
            },
            "annotations": {
                **alerting["annotations"],
                "description": f"{slo['description']} Objective {slo['objective']}%: the error "
                f"budget burns fast enough to warrant a {severity}.",
                "runbook_url": anchor(alerting["name"]),
            },
        })  # fmt: skip
    return {"name": f"slo-{name}", "rules": rules}


def operational_group(alerts: list[dict[str, Any]], scale: int) -> dict[str, Any]:
    rules = []
    for alert in alerts:
        rule = {
            **alert,
            "annotations": {**alert["annotations"], "runbook_url": anchor(alert["alert"])},
        }
        if "for" in rule:
            rule["for"] = scaled(rule["for"], scale)
        rules.append(rule)
    return {"name": "usersuite-operations", "rules": rules}


class _Dumper(yaml.SafeDumper):
    """Multi-line PromQL as literal blocks, so the rule file reads like the spec."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    )


_Dumper.add_representer(str, _text)


def render(scale: int = 1) -> str:
    spec = yaml.safe_load(SPEC.read_text())
    alerts = yaml.safe_load(ALERTS.read_text())
    groups = [
        slo_group(spec["service"], spec.get("labels", {}), slo, scale) for slo in spec["slos"]
    ]
    groups.append(operational_group(alerts, scale))
    header = "# Generated by deploy/slo/generate.py from slos.yaml and alerts.yaml: do not edit.\n"
    return header + yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--scale", type=int, default=1, help="divide every window and `for` by this"
    )
    parser.add_argument("--check", action="store_true", help="fail when --output is not current")
    args = parser.parse_args()
    text = render(args.scale)
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            print(f"{args.output} is not current: run make slo", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
