"""The interop clients as built by `make interop-clients`, and how one runs the scenario."""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import EmptyDatabases
from tests.support.processes import (
    UsersuiteProcess,
    child_env,
    migrate_with_cli,
    serve_args,
    server_env,
)
from tests.support.tools import REPO_ROOT, describe, run, which
from usersuite.platform.grpc.auth.jwt import mint_token

INTEROP = REPO_ROOT / "tests" / "interop"
SCENARIO = INTEROP / "scenario.json"
PROTO = REPO_ROOT / "proto"
SERVICE_CONFIG = PROTO / "user" / "v1" / "service_config.json"
# Each service's published config, as the clients read it from INTEROP_*SERVICE_CONFIG.
SERVICE_CONFIGS = {
    "INTEROP_SERVICE_CONFIG": SERVICE_CONFIG,
    "INTEROP_ORDERS_SERVICE_CONFIG": PROTO / "order" / "v1" / "service_config.json",
    "INTEROP_BILLING_SERVICE_CONFIG": PROTO / "billing" / "v1" / "service_config.json",
}
CLIENT_TIMEOUT = 180
HS256_SECRET = "interop-hs256-secret-0123456789abcdef0123456789"
ISSUER = AUDIENCE = "usersuite"

# Each client as `make interop-clients` leaves it; the Python SDK's runner needs no build.
COMMANDS: dict[str, list[str]] = {
    "go": [str(INTEROP / "go" / "bin" / "client")],
    "ts": ["node", str(INTEROP / "ts" / "dist" / "tests" / "interop" / "ts" / "src" / "client.js")],
    "rust": [str(INTEROP / "rust" / "target" / "debug" / "usersuite-interop")],
    "python": [sys.executable, "-m", "tests.interop.python_client"],
    # REST/JSON through the gateway (httpx): its target is the gateway's URL.
    "rest": [sys.executable, "-m", "tests.interop.rest_client"],
}


def client_command(language: str) -> list[str]:
    """The command of a built client; a missing build fails the test (building is a setup step)."""
    command = COMMANDS[language]
    program = command[-1] if language == "ts" else command[0]
    if language not in ("python", "rest") and not Path(program).exists():
        pytest.fail(f"the {language} client is not built ({program}): run `make interop-clients`")
    if language == "ts":
        which("node")
    return command


def auth_env(database_url: str, **values: str) -> dict[str, str]:
    """A production-mode server environment with JWT authentication on (HS256)."""
    return server_env(
        database_url,
        USERSUITE_AUTH__ENABLED="true",
        USERSUITE_AUTH__HS256_SECRET=HS256_SECRET,
        USERSUITE_AUTH__ISSUER=ISSUER,
        USERSUITE_AUTH__AUDIENCE=AUDIENCE,
        # Production wants reflection exposure chosen; public, so grpcurl and ghz need no token.
        USERSUITE_AUTH__REFLECTION="public",
        **values,
    )


@contextmanager
def authenticating_server(postgres: Any, workdir: Path, **env: str) -> Iterator[UsersuiteProcess]:
    """`usersuite serve` with auth on, on a database of its own migrated by the CLI."""
    databases = EmptyDatabases(postgres)
    url = databases.create()
    migrate_with_cli(url)
    process = UsersuiteProcess(serve_args(), auth_env(url, **env), workdir, workdir)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
        databases.drop_all()


def scenario_token() -> str:
    """A token with the scopes the scenario needs, accepted by a server with `auth_env`."""
    return mint_token(
        HS256_SECRET.encode(),
        subject="interop",
        scopes=[
            "users.read",
            "users.write",
            "orders.read",
            "orders.write",
            "billing.read",
            "billing.write",
        ],
        issuer=ISSUER,
        audience=AUDIENCE,
    )


@dataclass
class ScenarioRun:
    """One client's run of the scenario: its exit status and the line it printed per step."""

    result: subprocess.CompletedProcess[str]

    @property
    def lines(self) -> list[str]:
        return self.result.stdout.splitlines()

    def verdicts(self) -> dict[str, str]:
        """step name -> PASS or FAIL, from the client's one line per step."""
        found = {}
        for line in self.lines:
            verdict, _, rest = line.partition(" ")
            if verdict in {"PASS", "FAIL"}:
                found[rest.split(" ")[0].rstrip(":")] = verdict
        return found

    def __str__(self) -> str:
        return describe(self.result)


def scenario_steps(*services: str, scenario: Path = SCENARIO) -> list[str]:
    """The names of the steps a client runs with targets for `services` (the others it skips)."""
    steps = json.loads(scenario.read_text())["steps"]
    return [step["name"] for step in steps if step.get("service", "users") in services]


def grpc_target(target: str) -> str:
    """host:port as a dns:/// target; a URL (the gateway's) as it is."""
    return target if "://" in target else f"dns:///{target}"


def run_scenario(
    command: list[str],
    target: str,
    token: str,
    scenario: Path = SCENARIO,
    *,
    transport: str = "grpc",
    orders: str = "",
    billing: str = "",
) -> ScenarioRun:
    """`target` is the users service's host:port, or a URL (the gateway's) used as it is;
    `transport` is the TypeScript client's (grpc, grpc-web or connect). The order steps run
    only with the `orders` and `billing` targets; without, the client skips them."""
    targets = {"INTEROP_ORDERS_TARGET": orders, "INTEROP_BILLING_TARGET": billing}
    env = child_env(
        INTEROP_TRANSPORT=transport,
        INTEROP_TARGET=grpc_target(target),
        INTEROP_TOKEN=token,
        INTEROP_SCENARIO=str(scenario),
        INTEROP_RUN_ID=uuid.uuid4().hex[:12],
        **{name: str(path) for name, path in SERVICE_CONFIGS.items()},
        **{name: grpc_target(value) for name, value in targets.items() if value},
    )
    result = run(*command, env=env, cwd=REPO_ROOT, timeout=CLIENT_TIMEOUT)
    return ScenarioRun(result)
