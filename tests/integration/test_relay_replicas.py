"""Three relays side by side (active-active) under faults, and a bridge cut off from NATS.

Every test ends with the stream holding each written event exactly once and each user's events
in the order they were written, whichever replica relayed them.
"""

import asyncio
from collections.abc import Callable
from functools import partial

from nats.aio.client import Client

from tests.support.composition import composed
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresCluster
from tests.support.relaying import InProcessBridge
from tests.support.replicas import (
    QUICK,
    Writer,
    assert_once_in_user_order,
    replicas,
    shared,
    stream_holds_all,
    writing,
    written,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.nats.jetstream import connect
from usersuite.users.service.handlers import UserHandlers


async def writing_through(handlers: UserHandlers, *faults: Callable[[], object]) -> Writer:
    """Writes under way, then each fault (run in a thread) followed by 50 more writes; the writer
    is stopped when this returns, so `written` counts every event it wrote."""
    async with writing(handlers) as writer:
        await eventually(lambda: writer.past(100), what="writes under way")
        for fault in faults:
            await asyncio.to_thread(fault)
            await eventually(partial(writer.past, writer.written + 50), what="writes after it")
    return writer


async def test_three_replicas_share_the_partitions_through_a_nats_outage(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    async with replicas(3, pg_url, [nats_server.url], **QUICK) as running:
        await eventually(lambda: shared(running), what="16 partitions shared by 3")
        writer = await writing_through(api.handlers, nats_server.stop, nats_server.start)
        reader = await connect(nats_server.url, "reader-after", first_attempts=5)
        try:
            await eventually(lambda: stream_holds_all(reader, pg_url), within=60, what="all")
            assert await assert_once_in_user_order(reader, pg_url) == writer.written
        finally:
            await reader.close()
        for replica in running:
            replica.assert_running()


async def test_three_replicas_relay_through_a_postgres_restart(
    own_cluster: tuple[PostgresCluster, str], nats_server: NatsServer, nc: Client
) -> None:
    cluster, url = own_cluster
    async with composed(url) as api, replicas(3, url, [nats_server.url], **QUICK) as running:
        await eventually(lambda: shared(running), what="16 partitions shared")
        writer = await writing_through(api.handlers, cluster.restart)
        await eventually(lambda: stream_holds_all(nc, url), within=60, what="all relayed")
        assert await assert_once_in_user_order(nc, url) == writer.written
        await eventually(lambda: shared(running), what="shares after it")


def healthz(replica: InProcessBridge) -> int:
    """The status /healthz would answer for this replica (the ops listener's own check)."""
    return 200 if replica.container.relay.liveness.alive() else 503


async def test_a_bridge_cut_off_from_nats_hands_its_partitions_to_one_that_can_reach_it(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    proxy = await TcpProxy(nats_server.port).start()
    handover = {"leader_handover_seconds": 2.0, "publish_timeout_seconds": 0.5, **QUICK}
    try:
        async with replicas(2, pg_url, [proxy.url, nats_server.url], **handover) as running:
            cut, direct = running
            await eventually(lambda: shared(running), what="8 and 8 partitions")
            proxy.cut()
            async with writing(api.handlers) as writer:
                # The cut bridge fails to publish, gives up its share, and the other takes it.
                await eventually(lambda: _holds(direct, 16), within=30, what="the handover")
                assert cut.partitions == 0
                assert cut.container.relay.liveness.alive()  # a known wait, not a stall
                handed_over = writer.written
                await eventually(lambda: writer.past(handed_over + 30), what="writes")
            await eventually(lambda: stream_holds_all(nc, pg_url), within=30, what="all relayed")
            assert await assert_once_in_user_order(nc, pg_url) == writer.written
            assert healthz(cut) == healthz(direct) == 200
            # NATS answers the cut bridge again: it takes its share back; nothing repeats.
            proxy.restore()
            await eventually(lambda: shared(running), within=30, what="shares again")
            async with writing(api.handlers) as more:
                await eventually(lambda: more.past(40), what="writes after the cut")
            await eventually(lambda: stream_holds_all(nc, pg_url), within=30, what="all again")
            assert await assert_once_in_user_order(nc, pg_url) == writer.written + more.written
            assert len(await written(pg_url)) == 40
    finally:
        await proxy.stop()


async def _holds(replica: InProcessBridge, partitions: float) -> bool:
    replica.assert_running()
    return replica.partitions == partitions
