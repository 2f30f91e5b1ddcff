"""Debian's Prometheus and promtool for the SLO tests: the rules, a server on a free port."""

import contextlib
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.ports import free_port
from tests.support.tools import REPO_ROOT

RULES = REPO_ROOT / "deploy" / "helm" / "usersuite" / "files" / "prometheus-rules.yaml"
GENERATOR = REPO_ROOT / "deploy" / "slo" / "generate.py"
RUNBOOK = REPO_ROOT / "docs" / "runbook.md"


def prometheus_tool(name: str) -> str:
    """promtool or prometheus; missing, the test fails: CI installs Debian's `prometheus`."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: apt-get install prometheus (.ci/run does)")
    return found


def alert_rules(path: Path = RULES) -> list[dict[str, Any]]:
    """Every alerting rule of a rule file, in order."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


@dataclass(frozen=True)
class Prometheus:
    url: str

    def get(self, path: str, **query: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(query)}" if query else self.url + path
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts, from the HTTP API."""
        alerts: list[dict[str, Any]] = self.get("/api/v1/alerts")["alerts"]
        return alerts

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False


@contextlib.contextmanager
def running_prometheus(
    workdir: Path, targets: list[str], rules: Path, interval: str = "500ms"
) -> Iterator[Prometheus]:
    """A Prometheus of its own (storage in `workdir`) scraping `targets` every `interval` and
    evaluating `rules` as often; stopped at the end."""
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "usersuite", "static_configs": [{"targets": targets}]}],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            prometheus_tool("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
