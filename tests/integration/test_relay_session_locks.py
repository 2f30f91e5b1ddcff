"""A relay whose query fails on a live session takes none of its advisory locks along.

Cancelled relay queries leave their sessions alive; if such a session went back to the pool with
its member lock and rejoined on top of it, a later handover would release the membership only
once, and the bridge left behind would keep waiting for a member that is gone.
"""

import psycopg
import pytest
from nats.aio.client import Client

from tests.support.nats import NatsServer
from tests.support.postgres import conninfo, table_locked
from tests.support.replicas import (
    QUICK,
    assert_once_in_user_order,
    hand_over_while_writing,
    replicas,
    shared,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer

pytestmark = pytest.mark.integration
WAITING_CLAIMS = """
    SELECT pid FROM pg_stat_activity
    WHERE wait_event_type = 'Lock' AND query ILIKE '%FROM outbox%' AND pid <> pg_backend_pid()
"""


async def test_a_bridge_handing_over_after_cancelled_queries_leaves_the_other_every_partition(
    api: UsersContainer,
    pg_url: str,
    nats_server: NatsServer,
    nc: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = await TcpProxy(nats_server.port).start()
    handover = {"leader_handover_seconds": 2.0, "publish_timeout_seconds": 0.5, **QUICK}
    try:
        async with replicas(2, pg_url, [proxy.url, nats_server.url], **handover) as running:
            direct = running[1]
            await eventually(lambda: shared(running), what="8 and 8 partitions")
            await _cancel_both_claims(pg_url)
            await eventually(lambda: _failed_twice(caplog), what="both relays saw the cancel")
            await eventually(lambda: shared(running), what="both back, 8 and 8")
            # The cut bridge fails to publish and hands over; the other takes everything.
            written = await hand_over_while_writing(proxy, direct, api.handlers, nc, pg_url)
            assert await assert_once_in_user_order(nc, pg_url) == written
    finally:
        await proxy.stop()


async def _cancel_both_claims(url: str) -> None:
    """Holds the outbox locked until both relays wait on it, then cancels their queries."""
    async with (
        table_locked(url, "outbox"),
        await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as admin,
    ):

        async def both_waiting() -> bool:
            return len(await (await admin.execute(WAITING_CLAIMS)).fetchall()) == 2

        await eventually(both_waiting, what="both relays waiting on the outbox")
        for (pid,) in await (await admin.execute(WAITING_CLAIMS)).fetchall():
            await admin.execute("SELECT pg_cancel_backend(%s)", (pid,))


async def _failed_twice(caplog: pytest.LogCaptureFixture) -> bool:
    failures = [r for r in caplog.records if "database unavailable for the relay" in r.message]
    return len(failures) >= 2
