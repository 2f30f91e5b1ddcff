"""Active-active relaying for real: three `usersuite bridge` processes and a 3-node JetStream
cluster (stream replicas 3) on loopback, under steady writes. One NATS node is killed, then one
bridge; every event still arrives exactly once, each user's in the order it was written.
"""

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client

from tests.support.bridge_process import wait_bridge_ready
from tests.support.nats_cluster import NatsCluster
from tests.support.ports import free_port
from tests.support.processes import UsersuiteProcess, production_env
from tests.support.replicas import assert_once_in_user_order, stream_holds_all, writing
from tests.support.running import running
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.nats.jetstream import connect

# Three bridge processes, three NATS servers and a replicated stream take a while to start.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def cluster() -> Iterator[NatsCluster]:
    with running(NatsCluster()) as started:
        yield started


@contextlib.asynccontextmanager
async def reader(urls: list[str]) -> AsyncIterator[Client]:
    client = await connect(",".join(urls), "test-reader", first_attempts=5)
    try:
        yield client
    finally:
        await client.close()


async def test_three_bridges_and_a_nats_cluster_lose_a_node_then_a_bridge_under_load(
    api: UsersContainer, pg_url: str, cluster: NatsCluster, tmp_path: Path
) -> None:
    bridges = []
    try:
        for _ in range(3):
            env = production_env(
                USERSUITE_DATABASE_URL=pg_url,
                USERSUITE_NATS_URL=cluster.url,
                USERSUITE_METRICS_LISTEN=f"127.0.0.1:{free_port()}",
                USERSUITE_STREAM__REPLICAS="3",
                USERSUITE_BRIDGE__POLL_INTERVAL_SECONDS="0.2",
                USERSUITE_BRIDGE__REBALANCE_INTERVAL_SECONDS="0.5",
                USERSUITE_BRIDGE__PUBLISH_TIMEOUT_SECONDS="2",
                USERSUITE_BRIDGE__BACKOFF_MAX_SECONDS="1",
            )
            bridges.append(UsersuiteProcess(["bridge"], env, tmp_path, tmp_path))
        for bridge in bridges:
            await wait_bridge_ready(bridge)
        async with writing(api.handlers, users=30, pause=0.005) as writer:
            await eventually(lambda: writer.past(150), within=60, what="writes under way")
            # The first node is every bridge's first server: they all lose their connection.
            cluster.kill(0)
            killed_at = writer.written
            await eventually(lambda: writer.past(killed_at + 150), within=60, what="writes")
            bridges[1].proc.kill()
            assert bridges[1].wait() == -9
            bridge_killed_at = writer.written
            await eventually(lambda: writer.past(bridge_killed_at + 150), within=60, what="more")
        total = writer.written
        async with reader(cluster.urls[1:]) as nc:
            await eventually(lambda: stream_holds_all(nc, pg_url), within=90, what="all relayed")
            assert await assert_once_in_user_order(nc, pg_url) == total
        for survivor in (bridges[0], bridges[2]):
            assert survivor.proc.poll() is None, survivor.output()
    finally:
        for bridge in bridges:
            bridge.stop()
