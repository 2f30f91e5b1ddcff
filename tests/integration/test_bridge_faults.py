"""The relay under faults, on real PostgreSQL and a real nats-server: a crash between the acks and
the mark, NATS and PostgreSQL outages, and the outbox CLI for parked rows.

Every test ends by comparing the stream with the outbox: each event exactly once (distinct ce-id
and total messages), none lost, and each user's events in aggregate_version order.
"""

import asyncio
import contextlib
import json
import subprocess
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from nats.aio.client import Client
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from tests.conftest import Postgres, make_settings
from tests.e2e.harness import UsersuiteProcess, describe, production_env, run_usersuite
from tests.support.events import relay_settings, stream_count, stream_messages, wait_until
from tests.support.nats import NatsServer
from tests.support.postgres import PostgresCluster, free_port
from user.v1 import events_pb2
from usersuite.adapters.nats.jetstream import connect
from usersuite.bootstrap import BridgeContainer, Container, bootstrap, bootstrap_bridge
from usersuite.service import commands
from usersuite.service.handlers import UserHandlers

pytestmark = pytest.mark.integration
BRIDGE_READY = "usersuite bridge ready"
PROCESS_TIMEOUT = 60.0

# --- shared by these tests and tests/e2e/test_bridge_process.py --------------------------------


def conninfo(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class OutboxEntry:
    event_id: str
    aggregate_name: str
    aggregate_version: int
    state: str


async def outbox_entries(url: str) -> list[OutboxEntry]:
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cursor = await conn.execute(
            "SELECT event_id, aggregate_name, aggregate_version, state FROM outbox ORDER BY seq"
        )
        return [OutboxEntry(*row) for row in await cursor.fetchall()]


async def outbox_states(url: str) -> Counter[str]:
    return Counter(entry.state for entry in await outbox_entries(url))


def event_key(msg: Any) -> tuple[str, int]:
    """(aggregate_name, aggregate_version) from the message's protobuf payload."""
    message_type = getattr(events_pb2, msg.headers["ce-type"].rsplit(".", 1)[1])
    metadata = message_type.FromString(msg.data).metadata
    return str(metadata.aggregate_name), int(metadata.aggregate_version)


async def assert_relayed(nc: Client, url: str, *, complete: bool = True) -> list[OutboxEntry]:
    """The stream holds exactly the dispatched rows, each once, each user's in version order.

    complete: every row is dispatched. Otherwise the rest is pending and not in the stream, and
    what was relayed of each user is that user's oldest events.
    """
    entries = await outbox_entries(url)
    messages = await stream_messages(nc)
    ids = [msg.headers["ce-id"] for msg in messages]
    repeated = {event_id: n for event_id, n in Counter(ids).items() if n > 1}
    assert not repeated, f"{len(ids)} messages, events more than once: {repeated}"
    states = Counter(entry.state for entry in entries)
    if complete:
        assert set(states) == {"dispatched"}, states
    else:
        assert set(states) <= {"dispatched", "pending"}, states
    dispatched = {entry.event_id for entry in entries if entry.state == "dispatched"}
    missing, unexpected = dispatched - set(ids), set(ids) - dispatched
    assert not missing, f"{len(missing)} dispatched events are not in the stream"
    assert not unexpected, f"{len(unexpected)} messages of rows not dispatched: half state"
    assert len(ids) == len(dispatched)

    by_id = {entry.event_id: (entry.aggregate_name, entry.aggregate_version) for entry in entries}
    relayed: dict[str, list[int]] = defaultdict(list)
    for event_id, msg in zip(ids, messages, strict=True):
        assert event_key(msg) == by_id[event_id], f"payload of {event_id} is another event's"
        name, version = event_key(msg)
        relayed[name].append(version)
    written: dict[str, list[int]] = defaultdict(list)
    for entry in entries:
        written[entry.aggregate_name].append(entry.aggregate_version)
    for name, versions in written.items():
        assert sorted(versions) == list(range(1, len(versions) + 1)), (name, versions)
        got = relayed.get(name, [])
        expected = sorted(versions) if complete else sorted(versions)[: len(got)]
        assert got == expected, f"{name}: relayed versions {got}, written {sorted(versions)}"
    return entries


async def all_relayed(nc: Client, url: str, total: int) -> bool:
    states = await outbox_states(url)
    return states["dispatched"] == total and await stream_count(nc) == total


async def write_history(
    handlers: UserHandlers, users: int, events_per_user: int, tag: str = "user"
) -> list[str]:
    """Creates `users` users concurrently, each then updated until it has `events_per_user`
    events; one user's changes one after another."""

    async def one(i: int) -> str:
        user = await handlers.create_user(
            commands.CreateUser(display_name=f"User {i}", email=f"{tag}{i}@example.com")
        )
        for n in range(events_per_user - 1):
            await handlers.update_user(commands.UpdateUser(user.id, {"display_name": f"N {n}"}))
        return user.id

    return list(await asyncio.gather(*(one(i) for i in range(users))))


@contextlib.asynccontextmanager
async def marks_blocked(url: str) -> AsyncIterator[None]:
    """Holds SHARE on the outbox: a relay still claims rows (FOR UPDATE takes ROW SHARE) and
    publishes them, but marking them dispatched (UPDATE takes ROW EXCLUSIVE) waits for us."""
    conn = await psycopg.AsyncConnection.connect(conninfo(url))
    try:
        await conn.execute("LOCK TABLE outbox IN SHARE MODE")
        yield
    finally:
        with contextlib.suppress(psycopg.Error):  # a stopped cluster has ended it already
            await conn.rollback()
        await conn.close()


async def waiting_to_mark(url: str) -> bool:
    """A relay's UPDATE of the outbox waits for a lock."""
    async with await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query ILIKE 'UPDATE outbox%'"
        )
        row = await cursor.fetchone()
        return row is not None and row[0] > 0


async def wait_published_not_marked(nc: Client, url: str, in_flight: int) -> int:
    """Waits until a relay has published `in_flight` more events than are dispatched and waits to
    mark them; returns how many are dispatched."""
    dispatched = -1

    async def stuck() -> bool:
        nonlocal dispatched
        dispatched = (await outbox_states(url))["dispatched"]
        return await stream_count(nc) == dispatched + in_flight and await waiting_to_mark(url)

    await wait_until(stuck, within=30, what=f"{in_flight} events published and not marked")
    return dispatched


def bridge_env(database_url: str, nats_url: str, **values: str) -> dict[str, str]:
    """A production-mode `usersuite bridge` (a strong page token secret, auth off), its
    /metrics on a free port of its own."""
    return production_env(
        USERSUITE_DATABASE_URL=database_url,
        USERSUITE_NATS_URL=nats_url,
        USERSUITE_METRICS_LISTEN=f"127.0.0.1:{free_port()}",
        USERSUITE_BRIDGE__POLL_INTERVAL_SECONDS="0.2",
        **values,
    )


def scrape(env: dict[str, str]) -> dict[str, float]:
    """The bridge's /metrics as sample name -> value (labelled samples summed)."""
    url = f"http://{env['USERSUITE_METRICS_LISTEN']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] += sample.value
    return samples


async def wait_bridge_ready(process: UsersuiteProcess, within: float = PROCESS_TIMEOUT) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for line in list(process.stdout_lines):
            if line.startswith(BRIDGE_READY):
                return line
        if process.proc.poll() is not None:
            process.wait()
            pytest.fail(f"the bridge exited before it was ready\n{process.output()}")
        await asyncio.sleep(0.05)
    pytest.fail(f"no bridge ready line within {within}s\n{process.output()}")


@dataclass
class InProcessBridge:
    container: BridgeContainer
    stopping: asyncio.Event
    task: "asyncio.Task[None]"

    def assert_running(self) -> None:
        if self.task.done():
            error = None if self.task.cancelled() else self.task.exception()
            raise AssertionError(f"the relay stopped: {error!r}") from error

    async def relayed(self, nc: Client, url: str, total: int) -> bool:
        """Every one of `total` events is dispatched and in the stream (the relay still runs)."""
        self.assert_running()
        return await all_relayed(nc, url, total)


@contextlib.asynccontextmanager
async def relaying(
    database_url: str, nats_url: str, **bridge: Any
) -> AsyncIterator[InProcessBridge]:
    """A relay in this process; stopped on exit (it finishes its batch in flight)."""
    container = await bootstrap_bridge(relay_settings(database_url, nats_url, **bridge))  # type: ignore[arg-type]
    stopping = asyncio.Event()
    running = InProcessBridge(
        container, stopping, asyncio.create_task(container.relay.run(stopping))
    )
    try:
        yield running
    finally:
        stopping.set()
        await asyncio.gather(asyncio.wait_for(running.task, 30), return_exceptions=True)
        await container.close()


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await connect(nats_server.url, "test-reader", first_attempts=5)
    yield client
    await client.close()


@pytest.fixture
def bridge_process(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], UsersuiteProcess]]:
    """Starts `usersuite bridge` processes; each is stopped (SIGTERM, then SIGKILL) afterwards."""
    started: list[UsersuiteProcess] = []

    def start(env: dict[str, str]) -> UsersuiteProcess:
        process = UsersuiteProcess(["bridge"], env, tmp_path, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


# --- a. SIGKILL between the acks and the mark ---------------------------------------------------


async def test_a_bridge_killed_after_the_acks_before_the_mark_loses_and_repeats_nothing(
    api: Container,
    pg_url: str,
    nats_server: NatsServer,
    nc: Client,
    bridge_process: Callable[[dict[str, str]], UsersuiteProcess],
) -> None:
    await write_history(api.handlers, users=12, events_per_user=5)
    env = bridge_env(pg_url, nats_server.url)
    async with marks_blocked(pg_url):
        first = bridge_process(env)
        await wait_bridge_ready(first)
        await wait_published_not_marked(nc, pg_url, in_flight=60)
        first.proc.kill()
        assert first.wait() == -9

    async def killed_session_gone() -> bool:
        async with await psycopg.AsyncConnection.connect(conninfo(pg_url)) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            row = await cursor.fetchone()
            return row is not None and row[0] == 0

    await wait_until(killed_session_gone, what="the killed bridge's session to end")
    # The kill came after the acks and before the mark: published, yet every row still pending.
    assert await outbox_states(pg_url) == {"pending": 60}
    assert await stream_count(nc) == 60
    await write_history(api.handlers, users=3, events_per_user=2, tag="later")

    second = bridge_process(env)
    await wait_bridge_ready(second)
    await wait_until(lambda: all_relayed(nc, pg_url, 66), what="66 events relayed")
    assert len(await assert_relayed(nc, pg_url)) == 66
    # The second bridge published all 66; JetStream acknowledged the 60 as duplicates.
    metrics = await asyncio.to_thread(scrape, env)
    assert metrics["usersuite_outbox_published_total"] == 66
    assert metrics["usersuite_outbox_duplicates_total"] == 60
    assert second.proc.poll() is None, second.output()


# --- b. NATS down for 30 s under steady writes --------------------------------------------------


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


async def test_nats_down_for_30s_under_steady_writes_loses_and_repeats_nothing(
    api: Container, pg_url: str, nats_server: NatsServer
) -> None:
    async with relaying(pg_url, nats_server.url, backoff_max_seconds=2.0) as bridge:
        writer = SteadyWriter(api.handlers, per_second=20)
        try:

            async def flowing() -> bool:
                return (await outbox_states(pg_url))["dispatched"] >= 20

            await wait_until(flowing, what="events to flow")
            await asyncio.to_thread(nats_server.stop)
            before_outage = writer.written
            await asyncio.sleep(30)
            written_in_outage = writer.written - before_outage
            assert written_in_outage > 0
            assert (await outbox_states(pg_url))["pending"] >= written_in_outage
            await asyncio.to_thread(nats_server.start)
            await asyncio.sleep(3)
        finally:
            total = await writer.stop()
        reader = await connect(nats_server.url, "test-reader", first_attempts=5)
        try:
            await wait_until(
                lambda: bridge.relayed(reader, pg_url, total),
                within=20,
                what="the backlog to drain",
            )
            assert len(await assert_relayed(reader, pg_url)) == total
        finally:
            await reader.close()
        bridge.assert_running()


async def test_a_long_nats_outage_with_a_large_backlog_does_not_stop_the_relay(
    api: Container, pg_url: str, nats_server: NatsServer
) -> None:
    """While disconnected, nats-py buffers publishes (2 MiB by default) and raises
    OutboundBufferLimitError once that is full; the relay must treat that as NATS being down."""
    async with relaying(
        pg_url, nats_server.url, batch_size=1000, publish_timeout_seconds=0.3,
        backoff_max_seconds=0.2,
    ) as bridge:  # fmt: skip
        await asyncio.to_thread(nats_server.stop)
        await write_history(api.handlers, users=1000, events_per_user=1)
        await asyncio.sleep(8)  # many rounds of 1000 publishes each, none acknowledged
        await asyncio.to_thread(nats_server.start)
        reader = await connect(nats_server.url, "test-reader", first_attempts=5)
        try:
            await wait_until(
                lambda: bridge.relayed(reader, pg_url, 1000), within=30, what="the backlog to drain"
            )
            assert len(await assert_relayed(reader, pg_url)) == 1000
        finally:
            await reader.close()
        bridge.assert_running()


# --- c. PostgreSQL restarted mid-batch ----------------------------------------------------------


@pytest.fixture
def own_cluster() -> Iterator[tuple[PostgresCluster, str]]:
    """A cluster of this test's own, since the test restarts it."""
    cluster = PostgresCluster().start()
    try:
        yield cluster, Postgres(cluster.url()).new_database()
    finally:
        cluster.remove()


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
    api = bootstrap(make_settings(url))
    try:
        # Few users, many events each: every batch holds several events of each user.
        await write_history(api.handlers, users=4, events_per_user=500)
    finally:
        await api.close()
    async with relaying(url, nats_server.url, batch_size=20) as bridge:

        async def under_way() -> bool:
            return await stream_count(nc) >= 300

        await wait_until(under_way, what="the relay to be under way")
        before = await postmaster_started(url)
        async with marks_blocked(url):
            # The batch is published and not marked when PostgreSQL goes away.
            dispatched = await wait_published_not_marked(nc, url, in_flight=20)
            assert dispatched < 2000 - 20
            await asyncio.to_thread(cluster.restart)
        assert await postmaster_started(url) != before
        await wait_until(lambda: bridge.relayed(nc, url, 2000), within=60, what="2000 events")
        assert len(await assert_relayed(nc, url)) == 2000
        bridge.assert_running()


# --- d. usersuite outbox list|retry -------------------------------------------------------------

ROW_FIELDS = {
    "seq", "event_id", "event_type", "aggregate_name", "aggregate_version", "state", "attempts",
    "last_error", "occurred_time",
}  # fmt: skip
REJECTED = "APIError: code=400 err_code=10054 description='message size exceeds maximum allowed'"


def outbox_cli(url: str, *args: str) -> "subprocess.CompletedProcess[str]":
    return run_usersuite("outbox", *args, env=production_env(USERSUITE_DATABASE_URL=url))


def listed(url: str, *args: str) -> list[dict[str, Any]]:
    result = outbox_cli(url, "list", *args)
    assert result.returncode == 0, describe(result)
    return [json.loads(line) for line in result.stdout.splitlines()]


def retried(url: str, *args: str) -> str:
    result = outbox_cli(url, "retry", *args)
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


async def park(url: str, event_ids: list[str]) -> None:
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        await conn.execute(
            "UPDATE outbox SET state = 'parked', attempts = 5, last_error = %s "
            "WHERE event_id = ANY(%s)",
            (REJECTED, event_ids),
        )


async def test_outbox_cli_lists_parked_rows_and_retry_requeues_them(
    api: Container, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    await write_history(api.handlers, users=3, events_per_user=2)
    entries = await outbox_entries(pg_url)
    first, second = entries[0], entries[3]
    await park(pg_url, [first.event_id, second.event_id])

    parked = listed(pg_url, "--state", "parked")
    assert [row["event_id"] for row in parked] == [first.event_id, second.event_id]
    for row, entry in zip(parked, (first, second), strict=True):
        assert set(row) == ROW_FIELDS
        assert row["state"] == "parked"
        assert row["attempts"] == 5
        assert row["last_error"] == REJECTED
        assert (row["aggregate_name"], row["aggregate_version"]) == (
            entry.aggregate_name, entry.aggregate_version,
        )  # fmt: skip
        assert row["event_type"].startswith("user.v1.User")
        assert datetime.fromisoformat(row["occurred_time"]).tzinfo is not None
        assert row["occurred_time"].endswith("Z")
    every = listed(pg_url)
    assert [row["event_id"] for row in every] == [entry.event_id for entry in entries]
    assert [row["seq"] for row in every] == sorted(row["seq"] for row in every)
    assert Counter(row["state"] for row in every) == {"pending": 4, "parked": 2}
    assert len(listed(pg_url, "--limit", "2")) == 2
    assert listed(pg_url, "--state", "dispatched") == []

    assert retried(pg_url, "--event-id", first.event_id) == "re-queued 1 parked event(s)"
    assert retried(pg_url, "--event-id", first.event_id) == "re-queued 0 parked event(s)"
    [still] = listed(pg_url, "--state", "parked")
    assert still["event_id"] == second.event_id
    [requeued] = [row for row in listed(pg_url) if row["event_id"] == first.event_id]
    assert (requeued["state"], requeued["attempts"]) == ("pending", 0)

    nothing_named = outbox_cli(pg_url, "retry")
    assert nothing_named.returncode == 2, describe(nothing_named)
    assert len(nothing_named.stderr.strip().splitlines()) == 1, describe(nothing_named)
    assert "--event-id" in nothing_named.stderr
    assert retried(pg_url, "--all") == "re-queued 1 parked event(s)"
    assert listed(pg_url, "--state", "parked") == []

    # The bridge relays the re-queued events with the rest, each once, in order.
    async with relaying(pg_url, nats_server.url) as bridge:
        await wait_until(lambda: bridge.relayed(nc, pg_url, 6), what="6 events relayed")
    assert len(await assert_relayed(nc, pg_url)) == 6
