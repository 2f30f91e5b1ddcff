"""The relay's liveness on /healthz and the keepalives of its PostgreSQL sessions."""

import asyncio
import urllib.error
import urllib.request

from sqlalchemy import text

from tests.support.nats import NatsServer
from tests.support.postgres import table_locked
from tests.support.replicas import replicas
from tests.support.waiting import eventually
from usersuite.platform.ops.http import ops_listener


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def test_healthz_fails_while_the_loop_is_stuck_and_recovers_when_it_moves(
    pg_url: str, nats_server: NatsServer
) -> None:
    async with replicas(1, pg_url, [nats_server.url], stall_seconds=1.0) as [replica]:
        relay = replica.container.relay
        with ops_listener(
            "127.0.0.1:0", replica.container.registry, lambda: True, relay.liveness.alive
        ) as ops:

            async def status_is(code: int) -> bool:
                replica.assert_running()
                return await asyncio.to_thread(healthz, ops.port) == code

            await eventually(lambda: status_is(200), what="a live relay")
            # The outbox locked away: the relay's claim waits on it, a wait it cannot name.
            async with table_locked(pg_url, "outbox"):
                await eventually(lambda: status_is(503), what="/healthz to fail")
            await eventually(lambda: status_is(200), what="/healthz to recover")


async def test_the_relays_postgres_sessions_have_tcp_keepalives(
    pg_url: str, nats_server: NatsServer
) -> None:
    async with (
        replicas(1, pg_url, [nats_server.url]) as [replica],
        replica.container.engine.connect() as conn,
    ):
        # The server side: PostgreSQL probes our session and ends it when we vanish.
        names = ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
        settings = {name: (await conn.execute(text(f"SHOW {name}"))).scalar_one() for name in names}
        # The client side: libpq probes the server.
        params = conn.sync_connection.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
    assert settings == {
        "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3",
    }  # fmt: skip
    assert params["keepalives"] == "1"
    assert params["keepalives_idle"] == "10"
