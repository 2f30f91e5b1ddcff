"""Lookups in a rendering: objects by kind and name, pod specs, containers, the config file."""

import tomllib
from dataclasses import dataclass
from typing import Any

from tests.chart.helm import FULLNAME

WORKLOAD_KINDS = ("Deployment", "Job", "Pod")
SERVICES = ("users", "orders", "billing")


@dataclass(frozen=True)
class ServiceNames:
    """The name suffixes and components of one service's objects. users keeps the names of the
    chart's single-service days (a Deployment's selector cannot change on upgrade)."""

    name: str

    @property
    def component(self) -> str:
        return "api" if self.name == "users" else self.name

    @property
    def api(self) -> str:
        """The API Deployment's suffix (and its HPA's, PDB's and NetworkPolicy's)."""
        return f"-{self.component}"

    @property
    def service(self) -> str:
        """The gRPC Service's suffix."""
        return "" if self.name == "users" else f"-{self.name}"

    @property
    def bridge(self) -> str:
        return "-bridge" if self.name == "users" else f"-{self.name}-bridge"

    @property
    def migrations(self) -> str:
        return "-migrations" if self.name == "users" else f"-{self.name}-migrations"

    @property
    def secret_key(self) -> str:
        return "database-url" if self.name == "users" else f"{self.name}-database-url"


@dataclass
class Manifests:
    """The objects of one `helm template` run."""

    objects: list[dict[str, Any]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def maybe(self, kind: str, suffix: str = "") -> dict[str, Any] | None:
        name = f"{FULLNAME}{suffix}"
        found = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        assert len(found) <= 1, f"{len(found)} {kind} objects named {name}"
        return found[0] if found else None

    def one(self, kind: str, suffix: str = "") -> dict[str, Any]:
        found = self.maybe(kind, suffix)
        names = [f"{o['kind']}/{o['metadata']['name']}" for o in self.objects]
        assert found is not None, f"no {kind} {FULLNAME}{suffix} among {names}"
        return found

    def pod_specs(self) -> dict[str, dict[str, Any]]:
        """Every pod spec the chart makes (Deployments, the migration Job, the test Pod)."""
        specs = {}
        for obj in self.objects:
            if obj["kind"] in WORKLOAD_KINDS:
                spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
                specs[f"{obj['kind']}/{obj['metadata']['name']}"] = spec
        return specs

    def container(self, kind: str, suffix: str, name: str) -> dict[str, Any]:
        obj = self.one(kind, suffix)
        containers = obj["spec"]["template"]["spec"]["containers"]
        found: list[dict[str, Any]] = [c for c in containers if c["name"] == name]
        assert len(found) == 1, f"container {name} in {kind} {FULLNAME}{suffix}: {containers}"
        return found[0]

    def api(self, service: str = "users") -> dict[str, Any]:
        return self.container("Deployment", ServiceNames(service).api, "api")

    def bridge(self, service: str = "users") -> dict[str, Any]:
        return self.container("Deployment", ServiceNames(service).bridge, "bridge")

    def services(self) -> list[ServiceNames]:
        """The services this rendering deploys (an API Deployment each)."""
        return [n for n in map(ServiceNames, SERVICES) if self.maybe("Deployment", n.api)]

    def config_toml(self) -> str:
        text: str = self.one("ConfigMap")["data"]["config.toml"]
        return text

    def settings(self) -> dict[str, Any]:
        """The server settings the chart writes into config.toml."""
        return tomllib.loads(self.config_toml())


def env_names(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def mounts(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container.get("volumeMounts", [])}


def policies_of(rendering: Manifests) -> dict[str, dict[str, Any]]:
    """The NetworkPolicies' specs by component (their name after the full name)."""
    prefix = f"{FULLNAME}-"
    return {p["metadata"]["name"].removeprefix(prefix): p["spec"]
            for p in rendering.all("NetworkPolicy")}  # fmt: skip


def egress_ports(spec: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in spec["egress"] for p in rule["ports"]}


def egress_to(spec: dict[str, Any], port: int) -> list[dict[str, Any]]:
    """The `to` of the egress rule for `port` (absent means any address)."""
    rules = [rule for rule in spec["egress"] if {"port": port, "protocol": "TCP"} in rule["ports"]]
    assert len(rules) == 1, spec["egress"]
    return list(rules[0].get("to", [{"any address": True}]))
