"""A bridge that reaches NATS again long after it handed its partitions over sends nothing stale.

What it published while cut off (unacknowledged, held in its buffers or on the wire) must not
reach the stream after the other bridge relayed the same rows and the duplicate window passed.
The stream's window is made short here so that "after the window" is the test's to decide.
"""

import time

import pytest
from nats.aio.client import Client

from tests.support.nats import NatsServer
from tests.support.relaying import InProcessBridge
from tests.support.replicas import QUICK, assert_once_in_user_order, hand_over_while_writing, shared
from tests.support.settings import relay_settings
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.config import Settings

pytestmark = pytest.mark.integration
WINDOW_SECONDS = 1.0  # below the configurable minimum: set around validation, for this test only


def short_window(settings: Settings) -> Settings:
    stream = settings.stream.model_copy(update={"duplicate_window_seconds": WINDOW_SECONDS})
    return settings.model_copy(update={"stream": stream})


async def test_a_bridge_reconnecting_after_the_duplicate_window_repeats_nothing(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    proxy = await TcpProxy(nats_server.port).start()
    handover = {"leader_handover_seconds": 2.0, "publish_timeout_seconds": 0.5, **QUICK}
    running: list[InProcessBridge] = []
    try:
        for url in (proxy.url, nats_server.url):
            settings = short_window(relay_settings(pg_url, url, **handover))
            running.append(await InProcessBridge.start(settings))
        direct = running[1]
        await eventually(lambda: shared(running), what="8 and 8 partitions")
        written = await hand_over_while_writing(proxy, direct, api.handlers, nc, pg_url)
        relayed_at = time.monotonic()
        # Not a wait for the product: the point of the test is a reconnect after the window.
        await eventually(lambda: _past(relayed_at + 3 * WINDOW_SECONDS), what="the window")
        proxy.restore()
        # Sharing again needs the cut bridge's probe answered on its connection, behind
        # anything it still had on the way.
        await eventually(lambda: shared(running), within=30, what="shares again")
        assert await assert_once_in_user_order(nc, pg_url) == written
    finally:
        for replica in running:
            await replica.stop()
        await proxy.stop()


async def _past(moment: float) -> bool:
    return time.monotonic() >= moment
