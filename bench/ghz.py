"""Runs ghz (pinned to its own core) and reads its JSON: throughput of OK calls, p50 and p99."""

import json
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The contract as the gateway reads it: every service with its imports (google.api too).
PROTOSET = "gen/descriptor/usersuite.binpb"
SERVICE = "user.v1.UserService"


@dataclass(frozen=True)
class Load:
    """The shape of the load: the issue's 50 concurrent calls on 4 connections."""

    concurrency: int = 50
    connections: int = 4
    warmup_seconds: float = 3.0
    run_seconds: float = 10.0
    runs: int = 3


@dataclass(frozen=True)
class RunStats:
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    errors: int


def _percentile_ms(report: dict[str, Any], percentage: int) -> float:
    for point in report.get("latencyDistribution") or []:
        if int(point["percentage"]) == percentage:
            return float(point["latency"]) / 1e6
    raise ValueError(f"ghz report has no p{percentage} (no successful call?)")


def parse_report(report: dict[str, Any]) -> RunStats:
    """ghz's own numbers; throughput counts OK calls only (a -z run ends with a few cut calls)."""
    codes: dict[str, int] = report.get("statusCodeDistribution") or {}
    ok = int(codes.get("OK", 0))
    errors = sum(int(n) for code, n in codes.items() if code != "OK")
    seconds = float(report["total"]) / 1e9
    if ok == 0 or seconds <= 0:
        raise ValueError(
            f"no successful call in the run: {codes} {report.get('errorDistribution')}"
        )
    return RunStats(
        rps=ok / seconds,
        p50_ms=_percentile_ms(report, 50),
        p99_ms=_percentile_ms(report, 99),
        ok=ok,
        errors=errors,
    )


def median_run(runs: list[RunStats]) -> RunStats:
    """The median of each measure over the measured runs."""
    if not runs:
        raise ValueError("no runs")
    return RunStats(
        rps=statistics.median(run.rps for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        ok=sum(run.ok for run in runs),
        errors=sum(run.errors for run in runs),
    )


@dataclass(frozen=True)
class Call:
    """One gRPC method with its request (ghz templates allowed) and metadata."""

    method: str
    data: dict[str, Any]
    metadata: dict[str, str]


class Ghz:
    def __init__(self, binary: str, cpu: int, load: Load, log_dir: Path) -> None:
        self._binary = binary
        self._cpu = cpu
        self.load = load
        self._log_dir = log_dir

    def with_load(self, load: Load) -> "Ghz":
        """The same ghz with another load shape."""
        return Ghz(self._binary, self._cpu, load, self._log_dir)

    def _once(self, target: str, call: Call, seconds: float) -> dict[str, Any]:
        load = self.load
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=self._log_dir) as data:
            json.dump(call.data, data)
            data.flush()
            args = [
                "taskset", "-c", str(self._cpu), self._binary, "--insecure", "--cpus", "1",
                "--protoset", PROTOSET,
                "--call", f"{SERVICE}.{call.method}", "--data-file", data.name,
                "--metadata", json.dumps(call.metadata),
                "-c", str(load.concurrency), "--connections", str(load.connections),
                "-z", f"{seconds}s", "--format", "json", target,
            ]  # fmt: skip
            done = subprocess.run(
                args, capture_output=True, text=True, timeout=seconds + 60, check=False
            )
        if not done.stdout.strip():
            raise RuntimeError(f"ghz failed ({done.returncode}): {done.stderr.strip()}")
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def measure_once(self, target: str, call: Call, seconds: float) -> RunStats:
        """One run of `seconds`, parsed."""
        return parse_report(self._once(target, call, seconds))

    def measure(self, target: str, call: Call) -> RunStats:
        """A warm-up run (discarded), then `runs` measured runs; the median run."""
        self._once(target, call, self.load.warmup_seconds)
        runs = [
            parse_report(self._once(target, call, self.load.run_seconds))
            for _ in range(self.load.runs)
        ]
        return median_run(runs)

    def measure_paired(
        self, first: tuple[str, Call], second: tuple[str, Call]
    ) -> tuple[RunStats, RunStats]:
        """Two servers measured in alternating runs, so a shared machine's drift hits both alike."""
        for target, call in (first, second):
            self._once(target, call, self.load.warmup_seconds)
        runs: tuple[list[RunStats], list[RunStats]] = ([], [])
        for _ in range(self.load.runs):
            for (target, call), into in zip((first, second), runs, strict=True):
                into.append(parse_report(self._once(target, call, self.load.run_seconds)))
        return median_run(runs[0]), median_run(runs[1])
