"""Gateway rows: GetUser and CreateUser over REST/JSON and over Connect through Envoy, each in
runs alternating with the same call over gRPC direct to the same server (issue 16, point 7).

The HTTP load is vegeta's (closed loop: 50 workers, like ghz's 50 concurrent calls), pinned to
ghz's core; Envoy runs on the server's core, since its translation is part of what a call costs.
"""

import base64
import json
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from bench import plans
from bench.api import CREATE, pool_for, stats_row
from bench.ghz import Call, Ghz, Load, RunStats, median_run
from bench.processes import running, say
from bench.report import Row
from bench.stack import LOAD_CPU, SERVER_CPU, Stack
from user.v1 import user_pb2
from usersuite.gateway import envoy_config
from usersuite.gateway.launcher import RunningEnvoy, start_envoy
from usersuite.platform.config import Settings

# A CreateUser target is used once (an email is unique): enough distinct bodies for a run at
# this many calls per second.
MAX_CREATE_RPS = 5_000
CONNECT_PATH = "/user.v1.UserService/"

# A target list for one run, given the run's length in seconds.
Targets = Callable[[float], list[dict[str, Any]]]


def _target(method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "method": method,
        "url": url,
        "body": base64.b64encode(body).decode(),
        "header": {name: [value] for name, value in headers.items()},
    }


@dataclass(frozen=True)
class Http:
    """The two protocols Envoy adds, as vegeta targets for one gateway."""

    url: str
    authorization: str

    def rest_get(self, name: str) -> Targets:
        headers = {"authorization": self.authorization}
        return lambda _seconds: [_target("GET", f"{self.url}/v1/{name}", b"", headers)]

    def rest_create(self, seconds: float) -> list[dict[str, Any]]:
        headers = {"authorization": self.authorization, "content-type": "application/json"}
        return [
            _target("POST", f"{self.url}/v1/users", json.dumps(user).encode(), headers)
            for user in _new_users(seconds)
        ]

    def _connect(self, method: str, request: Message) -> dict[str, Any]:
        # Binary Connect: Envoy's connect_grpc_bridge translates it to gRPC (its JSON codec
        # would need the descriptor set, which the bridge does not take).
        headers = {
            "authorization": self.authorization,
            "content-type": "application/proto",
            "connect-protocol-version": "1",
        }
        url = f"{self.url}{CONNECT_PATH}{method}"
        return _target("POST", url, request.SerializeToString(), headers)

    def connect_get(self, name: str) -> Targets:
        target = self._connect("GetUser", user_pb2.GetUserRequest(name=name))
        return lambda _seconds: [target]

    def connect_create(self, seconds: float) -> list[dict[str, Any]]:
        return [
            self._connect(
                "CreateUser",
                user_pb2.CreateUserRequest(
                    user=user_pb2.User(display_name=user["display_name"], email=user["email"])
                ),
            )
            for user in _new_users(seconds)
        ]


def _new_users(seconds: float) -> list[dict[str, str]]:
    run = uuid.uuid4().hex[:12]
    count = int(MAX_CREATE_RPS * (seconds + 1))
    return [
        {"display_name": "Bench User", "email": f"bench-{run}-{i}@example.com"}
        for i in range(count)
    ]


class Vegeta:
    """vegeta attack | vegeta report, pinned to the load core; the same Load as ghz."""

    def __init__(self, binary: str, load: Load, log_dir: Path) -> None:
        self._binary = binary
        self.load = load
        self._log_dir = log_dir

    def once(self, targets: Targets, seconds: float) -> RunStats:
        with tempfile.TemporaryDirectory(dir=self._log_dir) as scratch:
            target_file = Path(scratch) / "targets.jsonl"
            target_file.write_text("\n".join(json.dumps(t) for t in targets(seconds)) + "\n")
            results = Path(scratch) / "results.bin"
            workers = str(self.load.concurrency)
            attack = [
                "taskset", "-c", str(LOAD_CPU), self._binary, "attack", "-format", "json",
                "-targets", str(target_file), "-rate", "0", "-workers", workers,
                "-max-workers", workers, "-connections", str(self.load.concurrency),
                "-duration", f"{seconds}s", "-timeout", "30s", "-output", str(results),
            ]  # fmt: skip
            subprocess.run(attack, check=True, capture_output=True, timeout=seconds + 120)
            done = subprocess.run(
                [self._binary, "report", "-type", "json", str(results)],
                check=True, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
        return parse_vegeta(json.loads(done.stdout))


def parse_vegeta(report: dict[str, Any]) -> RunStats:
    """vegeta's numbers; throughput counts 2xx responses only, over the attack's duration."""
    codes = {str(code): int(n) for code, n in (report.get("status_codes") or {}).items()}
    ok = sum(n for code, n in codes.items() if code.startswith("2"))
    seconds = float(report["duration"]) / 1e9
    if ok == 0 or seconds <= 0:
        raise ValueError(f"no successful call in the run: {codes} {report.get('errors')}")
    latencies = report["latencies"]
    return RunStats(
        rps=ok / seconds,
        p50_ms=float(latencies["50th"]) / 1e6,
        p99_ms=float(latencies["99th"]) / 1e6,
        ok=ok,
        errors=sum(codes.values()) - ok,
    )


def _paired(
    ghz: Ghz, vegeta: Vegeta, direct: tuple[str, Call], http: Targets
) -> tuple[RunStats, RunStats]:
    """The HTTP call and the gRPC call in alternating runs; (http, direct)."""
    load = ghz.load
    ghz.measure_once(*direct, load.warmup_seconds)
    vegeta.once(http, load.warmup_seconds)
    over_http: list[RunStats] = []
    over_grpc: list[RunStats] = []
    for _ in range(load.runs):
        over_grpc.append(ghz.measure_once(*direct, load.run_seconds))
        over_http.append(vegeta.once(http, load.run_seconds))
    return median_run(over_http), median_run(over_grpc)


def _pin(envoy: RunningEnvoy) -> None:
    subprocess.run(
        ["taskset", "-a", "-p", "-c", str(SERVER_CPU), str(envoy.process.pid)],
        check=True, capture_output=True,
    )  # fmt: skip


def rows(stack: Stack, ghz: Ghz, vegeta: Vegeta, url: str) -> list[Row]:
    """The four gateway rows against one full-stack server on PostgreSQL with Envoy in front."""
    with running(stack.serve("serve-gateway", url, **pool_for(ghz.load))) as server:
        target = f"127.0.0.1:{server.port()}"
        settings = Settings(
            mode="dev",
            listen=target,
            gateway={"listen": "127.0.0.1:0", "admin_listen": "127.0.0.1:0"},
        )
        envoy = start_envoy(envoy_config(settings), stack.log_dir / "envoy")
        try:
            _pin(envoy)
            someone = stack.seed_users(server.port(), 1)[0]
            metadata = stack.metadata()
            http = Http(envoy.url, metadata["authorization"])
            get = (target, Call("GetUser", {"name": someone}, metadata))
            create = (target, Call("CreateUser", CREATE, metadata))
            scenarios = (
                (plans.GET_REST, get, http.rest_get(someone)),
                (plans.CREATE_REST, create, http.rest_create),
                (plans.GET_CONNECT, get, http.connect_get(someone)),
                (plans.CREATE_CONNECT, create, http.connect_create),
            )
            measured = []
            for name, direct, targets in scenarios:
                over_http, over_grpc = _paired(ghz, vegeta, direct, targets)
                row = stats_row("gateway", name, over_http, over_grpc)
                row.note = (
                    f"paired gRPC direct: {over_grpc.rps:,.0f} rps, "
                    f"p50 {over_grpc.p50_ms:.1f} ms, p99 {over_grpc.p99_ms:.1f} ms"
                )
                measured.append(row)
        finally:
            envoy.stop()
    say("gateway rows done")
    return measured
