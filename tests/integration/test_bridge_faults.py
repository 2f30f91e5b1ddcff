"""The relay under faults, on real PostgreSQL and a real nats-server: NATS and PostgreSQL outages.
(A crash between the acks and the mark, and the outbox CLI, run real processes: tests/e2e.)

Every test ends by comparing the stream with the outbox: each event exactly once (distinct ce-id
and total messages), none lost, and each user's events in aggregate_version order.
"""

import asyncio
import contextlib
import time

import psycopg
from nats.aio.client import Client

from tests.support.composition import composed
from tests.support.events import stream_count, write_history
from tests.support.nats import NatsServer
from tests.support.outbox import (
    assert_relayed,
    marks_blocked,
    outbox_states,
    wait_published_not_marked,
)
from tests.support.postgres import PostgresCluster, conninfo
from tests.support.relaying import relaying
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.nats.jetstream import connect
from usersuite.users.service import commands
from usersuite.users.service.handlers import UserHandlers

# Events the steady writer adds while NATS is down: at 20 a second, an outage of some five
# seconds, more than twice the relay's longest backoff (2 s), so it retries at its slowest.
WRITTEN_IN_OUTAGE = 100


# --- NATS down under steady writes ----------------------------------------------------------------


class SteadyWriter:
    """Creates and updates users at a steady, bounded rate until stopped."""

    def __init__(self, handlers: UserHandlers, per_second: float) -> None:
        self._handlers = handlers
        self._interval = 1.0 / per_second
        self._stopping = asyncio.Event()
        self._users: list[str] = []
        self.written = 0
        self._task = asyncio.create_task(self._run())

    async def _write(self, n: int) -> None:
        # One create in five; the updates go round the users, several events each.
        if n % 5 == 0:
            user = await self._handlers.create_user(
                commands.CreateUser(display_name=f"Steady {n}", email=f"steady{n}@example.com")
            )
            self._users.append(user.id)
        else:
            user_id = self._users[n % len(self._users)]
            await self._handlers.update_user(
                commands.UpdateUser(user_id, {"display_name": f"Steady {n}"})
            )
        self.written += 1

    async def _run(self) -> None:
        started = time.monotonic()
        n = 0
        while not self._stopping.is_set():
            await self._write(n)
            n += 1
            delay = started + n * self._interval - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self) -> int:
        """How many events were written; raises what the writer raised."""
        self._stopping.set()
        await self._task
        return self.written


async def test_nats_down_under_steady_writes_loses_and_repeats_nothing(
    api: UsersContainer, pg_url: str, nats_server: NatsServer
) -> None:
    async with relaying(pg_url, nats_server.url, backoff_max_seconds=2.0) as bridge:
        writer = SteadyWriter(api.handlers, per_second=20)
        try:

            async def flowing() -> bool:
                return (await outbox_states(pg_url))["dispatched"] >= 20

            await eventually(flowing, what="events to flow")
            await asyncio.to_thread(nats_server.stop)
            before_outage = writer.written

            async def outage_lasted() -> bool:
                return writer.written - before_outage >= WRITTEN_IN_OUTAGE

            await eventually(
                outage_lasted, what=f"{WRITTEN_IN_OUTAGE} events written in the outage"
            )
            written_in_outage = writer.written - before_outage
            assert written_in_outage > 0
            assert (await outbox_states(pg_url))["pending"] >= written_in_outage
            await asyncio.to_thread(nats_server.start)
            written_before_restart = writer.written

            async def relaying_again() -> bool:
                dispatched = (await outbox_states(pg_url))["dispatched"]
                return dispatched >= written_before_restart

            # The writes go on while the relay catches up with the outage's backlog.
            await eventually(relaying_again, what="the relay to relay the outage's events")
        finally:
            total = await writer.stop()
        reader = await connect(nats_server.url, "test-reader", first_attempts=5)
        try:
            await eventually(
                lambda: bridge.relayed(reader, pg_url, total),
                within=20,
                what="the backlog to drain",
            )
            assert len(await assert_relayed(reader, pg_url)) == total
        finally:
            await reader.close()
        bridge.assert_running()


async def test_a_long_nats_outage_with_a_large_backlog_does_not_stop_the_relay(
    api: UsersContainer, pg_url: str, nats_server: NatsServer
) -> None:
    """While disconnected, nats-py buffers publishes (2 MiB by default) and raises
    OutboundBufferLimitError once that is full; the relay must treat that as NATS being down."""
    async with relaying(
        pg_url, nats_server.url, batch_size=1000, publish_timeout_seconds=0.3,
        backoff_max_seconds=0.2,
    ) as bridge:  # fmt: skip
        await asyncio.to_thread(nats_server.stop)
        await write_history(api.handlers, users=1000, events_per_user=1)

        async def backlog_waits() -> bool:
            # The relay knows NATS is gone and holds the whole backlog back, unpublished.
            states = await outbox_states(pg_url)
            return not bridge.container.relay.ready and states["pending"] == 1000

        await eventually(backlog_waits, what="the backlog to wait for NATS")
        await asyncio.to_thread(nats_server.start)
        reader = await connect(nats_server.url, "test-reader", first_attempts=5)
        try:
            await eventually(
                lambda: bridge.relayed(reader, pg_url, 1000), within=30, what="the backlog to drain"
            )
            assert len(await assert_relayed(reader, pg_url)) == 1000
        finally:
            await reader.close()
        bridge.assert_running()


# --- PostgreSQL restarted mid-batch ---------------------------------------------------------------


async def postmaster_started(url: str) -> object:
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cursor = await conn.execute("SELECT pg_postmaster_start_time()")
        row = await cursor.fetchone()
        assert row is not None
        return row[0]


async def test_postgres_restarted_mid_batch_loses_and_repeats_nothing(
    own_cluster: tuple[PostgresCluster, str], nats_server: NatsServer, nc: Client
) -> None:
    cluster, url = own_cluster
    async with composed(url) as api:
        # Few users, many events each: every batch holds several events of each user.
        await write_history(api.handlers, users=4, events_per_user=500)
    async with relaying(url, nats_server.url, batch_size=20) as bridge:

        async def under_way() -> bool:
            return await stream_count(nc) >= 300

        await eventually(under_way, what="the relay to be under way")
        before = await postmaster_started(url)
        async with marks_blocked(url):
            # The batch is published and not marked when PostgreSQL goes away.
            dispatched = await wait_published_not_marked(nc, url, in_flight=20)
            assert dispatched < 2000 - 20
            await asyncio.to_thread(cluster.restart)
        assert await postmaster_started(url) != before
        await eventually(lambda: bridge.relayed(nc, url, 2000), within=60, what="2000 events")
        assert len(await assert_relayed(nc, url)) == 2000
        bridge.assert_running()
