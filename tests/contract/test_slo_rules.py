"""The generated Prometheus rules are current, valid, and fire on the burns they must catch.

Each case is a `promtool test rules` unit test over synthetic series (one sample a minute): a
burn an alert must catch, and a blip or a slow burn the page must ignore. The expected alerts
carry the labels and annotations the rule file gives them, so a test reads like the alert.
"""

import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from tests.support.prometheus import GENERATOR, RULES, alert_rules, prometheus_tool
from tests.support.tools import REPO_ROOT, describe, run

SERVICE = "user.v1.UserService"
UNARY = f'grpc_type="unary",grpc_service="{SERVICE}"'


def handled(code: str, values: str) -> dict[str, str]:
    labels = f'{UNARY},grpc_method="CreateUser",grpc_code="{code}"'
    return {"series": f"grpc_server_handled_total{{{labels}}}", "values": values}


def latency(method: str, fast: str, total: str, le: str) -> list[dict[str, str]]:
    labels = f'{UNARY},grpc_method="{method}"'
    return [
        {"series": f"grpc_server_handling_seconds_count{{{labels}}}", "values": total},
        {"series": f'grpc_server_handling_seconds_bucket{{{labels},le="{le}"}}', "values": fast},
    ]


def freshness(fast: str, total: str) -> list[dict[str, str]]:
    name = "usersuite_outbox_commit_to_ack_seconds"
    return [
        {"series": f"{name}_count", "values": total},
        {"series": f'{name}_bucket{{le="5.0"}}', "values": fast},
    ]


def plain(series: str, values: str) -> list[dict[str, str]]:
    return [{"series": series, "values": values}]


def expected(alert: str, severities: tuple[str, ...], value: str, **labels: str) -> list[Any]:
    """The alerts `alert`'s rules of `severities` raise, their annotations templated."""
    alerts = []
    for rule in alert_rules():
        if rule["alert"] != alert or rule["labels"]["severity"] not in severities:
            continue
        # A burn-rate alert keeps the labels of the SLO's recordings it compares.
        ids = slo_ids(alert) if "sloth_severity" in rule["labels"] else {}
        all_labels = {**rule["labels"], **ids, **labels}

        def fill(text: str, all_labels: dict[str, str] = all_labels) -> str:
            text = text.replace("{{ $value }}", value)
            return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: all_labels[m[1]], text)

        alerts.append({
            "exp_labels": all_labels,
            "exp_annotations": {k: fill(v) for k, v in rule["annotations"].items()},
        })  # fmt: skip
    return alerts


def slo_ids(alert: str) -> dict[str, str]:
    """sloth_id, sloth_service and sloth_slo of the SLO whose alert is `alert`."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    for group in groups:
        rules = group["rules"]
        if any(rule.get("alert") == alert for rule in rules):
            labels = rules[0]["labels"]
            return {k: labels[k] for k in ("sloth_id", "sloth_service", "sloth_slo")}
    raise AssertionError(f"no SLO raises {alert}")


SLO = {"grpc_service": SERVICE}
BOTH = ("page", "ticket")
PARKED = "usersuite_outbox_parked"
AGE = "usersuite_outbox_oldest_pending_age_seconds"
PARTITIONS = "usersuite_bridge_partitions"
DEAD = 'usersuite_consumer_dead_letters_total{consumer="billing"}'
STALE = "usersuite_jwks_stale_rejections_total"
EXPIRY = "usersuite_tls_certificate_expiry_timestamp_seconds"


class Case(NamedTuple):
    name: str
    series: list[dict[str, str]]
    minute: int
    alert: str
    fires: tuple[str, ...] = ()  # the severities expected to fire at `minute`
    labels: dict[str, str] = {}  # noqa: RUF012 - never mutated
    value: str = ""


CASES = [
    Case("availability burn pages",
         [handled("OK", "0+600x180"), handled("UNAVAILABLE", "0x59 0+60x120")],
         75, "UsersuiteApiAvailability", BOTH, SLO),
    Case("availability blip is ignored",
         [handled("OK", "0+600x360"), handled("INTERNAL", "0x300 60x60")],
         310, "UsersuiteApiAvailability"),
    Case("availability slow burn opens a ticket, no page",
         [handled("OK", "0+600x240"), handled("DEADLINE_EXCEEDED", "0+3x240")],
         180, "UsersuiteApiAvailability", ("ticket",), SLO),
    Case("client errors are not the server's",
         [handled("OK", "0+600x180"), handled("NOT_FOUND", "0+600x180")],
         75, "UsersuiteApiAvailability"),
    Case("slow reads page", latency("GetUser", "0+600x60 36000x59", "0+600x120", "0.1"),
         75, "UsersuiteApiReadLatency", BOTH, SLO),
    Case("fast reads are quiet", latency("GetUser", "0+600x120", "0+600x120", "0.1"),
         75, "UsersuiteApiReadLatency"),
    Case("slow writes page", latency("CreateUser", "0+600x60 36000x59", "0+600x120", "0.25"),
         75, "UsersuiteApiWriteLatency", BOTH, SLO),
    Case("late events page", freshness("0+60x60 3600x59", "0+60x120"),
         75, "UsersuiteEventFreshness", BOTH),
    Case("a few late events are ignored", freshness("0+60x300 18050+60x59", "0+60x360"),
         310, "UsersuiteEventFreshness"),
    Case("parked rows page", plain(PARKED, "0 0 3x10"), 5, "UsersuiteOutboxParked", ("page",),
         value="3"),
    Case("no parked rows", plain(PARKED, "0x10"), 5, "UsersuiteOutboxParked"),
    Case("a stalled relay pages", plain(AGE, "0+60x20"), 15, "UsersuiteOutboxStalled", ("page",),
         value="900"),
    Case("a short delay is ignored", plain(AGE, "0 30 0x20"), 15, "UsersuiteOutboxStalled"),
    Case("no relay holds a partition", plain(PARTITIONS, "1x5 0x20"), 10, "UsersuiteNoRelay",
         ("page",)),
    Case("no bridge at all", plain(PARKED, "0x20"), 10, "UsersuiteNoRelay", ("page",)),
    Case("a relay holds its partitions", plain(PARTITIONS, "1x20"), 10, "UsersuiteNoRelay"),
    Case("dead letters page", plain(DEAD, "0x5 1x20"), 10, "UsersuiteDeadLettersGrowing",
         ("page",), {"consumer": "billing"}),
    Case("no dead letters", plain(DEAD, "0x20"), 10, "UsersuiteDeadLettersGrowing"),
    Case("stale JWKS refusals page", plain(STALE, "0x5 2x20"), 8, "UsersuiteJwksStale", ("page",)),
    Case("no stale JWKS refusals", plain(STALE, "0x20"), 8, "UsersuiteJwksStale"),
    Case("a certificate expiring in 10 days", plain(EXPIRY, "864000x20"),
         15, "UsersuiteCertificateExpiry", ("ticket",)),
    Case("a certificate good for 30 days", plain(EXPIRY, "2592000x20"),
         15, "UsersuiteCertificateExpiry"),
]  # fmt: skip


def test_rules_are_generated_from_the_spec() -> None:
    result = run(sys.executable, str(GENERATOR), "--check", cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


def test_promtool_accepts_the_rules() -> None:
    result = run(prometheus_tool("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, describe(result)


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(RULES.read_text().replace("sum by (grpc_service)", "sum by grpc_service", 1))
    result = run(prometheus_tool("promtool"), "check", "rules", str(broken))
    assert result.returncode != 0, describe(result)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_alert(tmp_path: Path, case: Case) -> None:
    expect = expected(case.alert, case.fires, case.value, **case.labels)
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "name": case.name,
            "interval": "1m",
            "input_series": case.series,
            "alert_rule_test": [
                {"eval_time": f"{case.minute}m", "alertname": case.alert, "exp_alerts": expect},
            ],
        }],
    }  # fmt: skip
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = run(prometheus_tool("promtool"), "test", "rules", str(path))
    assert result.returncode == 0, describe(result)


def test_every_alert_has_a_case() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert names == {case.alert for case in CASES}
