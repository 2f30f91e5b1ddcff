"""The generated alerts in a real Prometheus: a running suite fails for real, the matching
alerts fire through Prometheus's HTTP API, and they resolve once the suite recovers.

The rules are the generator's test variant (`--scale 120`: every window and `for` divided by
120, so the page's 1h and 5m windows become 30 s and 2.5 s); their expressions are the real
ones. Prometheus scrapes `usersuite serve` and `usersuite bridge` and evaluates every 500 ms.
Failures are real: the server's database refuses connections (calls end UNAVAILABLE), and
nats-server is stopped (events wait in the outbox, then reach JetStream late).
"""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.bridge_process import bridge_env, wait_bridge_ready
from tests.support.nats import NatsServer
from tests.support.ports import free_port
from tests.support.postgres import Postgres, conninfo
from tests.support.processes import Launch, server_env
from tests.support.prometheus import GENERATOR, Prometheus, running_prometheus
from tests.support.stubs import AsyncUserStub, create, new_user
from tests.support.tools import describe, run
from tests.support.waiting import eventually
from user.v1 import user_pb2

pytestmark = pytest.mark.e2e

SCALE = "120"
DEADLINE = 60.0


def alert_state(prometheus: Prometheus, alert: str, severity: str) -> str:
    """ "firing", "pending" or "" (inactive) for `alert` of `severity`."""
    states = {
        a["state"]
        for a in prometheus.alerts()
        if a["labels"]["alertname"] == alert and a["labels"].get("severity") == severity
    }
    return "firing" if "firing" in states else "pending" if states else ""


async def wait_state(prometheus: Prometheus, alert: str, severity: str, *states: str) -> None:
    """Until `alert` is in one of `states`; none: until it is resolved (inactive)."""
    wanted = states or ("",)

    async def reached() -> bool:
        return await asyncio.to_thread(alert_state, prometheus, alert, severity) in wanted

    await eventually(reached, within=DEADLINE, what=f"{alert} ({severity}) {states or 'resolved'}")


async def wait_scraped(prometheus: Prometheus, targets: int) -> None:
    async def up() -> bool:
        result = await asyncio.to_thread(prometheus.get, "/api/v1/query", query="sum(up)")
        return bool(result["result"]) and float(result["result"][0]["value"][1]) == targets

    await eventually(up, within=DEADLINE, what="Prometheus scraping every target")


def allow_connections(postgres: Postgres, database_url: str, allowed: bool) -> None:
    """Lets the server's database take connections, or refuses new ones and ends its sessions."""
    name = make_url(database_url).database
    with psycopg.connect(conninfo(postgres.admin_url), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


@contextlib.asynccontextmanager
async def calling(stub: AsyncUserStub, name: str) -> AsyncIterator[list[str]]:
    """GetUser calls in a loop until the block ends; yields the codes seen so far."""
    codes: list[str] = []

    async def loop() -> None:
        while True:
            try:
                await stub.GetUser(user_pb2.GetUserRequest(name=name), timeout=5)
                codes.append("OK")
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code().name)
            # Paced well below the server's rate limit: its RESOURCE_EXHAUSTED would hide the
            # codes the test is about.
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    try:
        yield codes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_real_failures_fire_the_alerts_and_recovery_resolves_them(
    postgres: Postgres,
    migrated_database: str,
    nats_server: NatsServer,
    launch: Launch,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    result = run(sys.executable, str(GENERATOR), "--scale", SCALE, "--output", str(rules))
    assert result.returncode == 0, describe(result)

    serve_metrics = f"127.0.0.1:{free_port()}"
    server = launch(
        ["serve", "--listen", "127.0.0.1:0", "--metrics-listen", serve_metrics],
        server_env(migrated_database),
    )
    env = bridge_env(
        migrated_database, nats_server.url, USERSUITE_BRIDGE__LEADER_HANDOVER_SECONDS="300"
    )
    bridge = launch(["bridge"], env)
    await asyncio.to_thread(server.wait_ready)
    await wait_bridge_ready(bridge)

    targets = [serve_metrics, env["USERSUITE_METRICS_LISTEN"]]
    with running_prometheus(tmp_path, targets, rules) as prometheus:
        await eventually(lambda: asyncio.to_thread(prometheus.ready), what="Prometheus ready")
        await wait_scraped(prometheus, len(targets))
        async with grpc.aio.insecure_channel(server.target) as channel:
            stub: AsyncUserStub = AsyncUserStub(channel)
            user = await create(stub)

            # The database refuses the server: calls end UNAVAILABLE until the page fires.
            async with calling(stub, user.name) as codes:
                await eventually(lambda: asyncio.to_thread(lambda: "OK" in codes))
                await asyncio.to_thread(allow_connections, postgres, migrated_database, False)
                await wait_state(prometheus, "UsersuiteApiAvailability", "page", "firing")
                assert "UNAVAILABLE" in codes
                await asyncio.to_thread(allow_connections, postgres, migrated_database, True)
                await wait_state(prometheus, "UsersuiteApiAvailability", "page")

            # NATS stops: a new user's event waits in the outbox and the relay stalls.
            nats_server.stop()
            await create(stub, user=new_user("Bea", "bea@example.com"))
            await wait_state(prometheus, "UsersuiteOutboxStalled", "page", "pending")
            await wait_state(prometheus, "UsersuiteOutboxStalled", "page", "firing")
            nats_server.start()
            # The event reaches JetStream more than 5 s after its commit: freshness burns.
            await wait_state(prometheus, "UsersuiteEventFreshness", "page", "firing")
            await wait_state(prometheus, "UsersuiteOutboxStalled", "page")
            await wait_state(prometheus, "UsersuiteEventFreshness", "page")
