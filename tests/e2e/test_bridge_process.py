"""`usersuite bridge` as an operator runs it: SIGKILL and SIGTERM mid-batch, a conflicting stream,
and NATS that is not up yet. Events come from the handlers or from a real `usersuite serve`."""

import asyncio
import json

import grpc
import psycopg
import pytest
from google.protobuf import field_mask_pb2
from nats.aio.client import Client
from nats.js.api import StreamConfig

from tests.support.bridge_process import BRIDGE_READY, bridge_env, scrape, wait_bridge_ready
from tests.support.events import stream_count, write_history
from tests.support.nats import NatsServer
from tests.support.outbox import (
    all_relayed,
    assert_relayed,
    marks_blocked,
    outbox_states,
    wait_published_not_marked,
)
from tests.support.postgres import conninfo
from tests.support.processes import Launch, run_usersuite, serve_args, server_env
from tests.support.tools import describe
from tests.support.waiting import eventually, stays_true_for
from user.v1 import user_pb2, user_pb2_grpc
from usersuite.bootstrap import UsersContainer
from usersuite.platform.nats.jetstream import connect


async def write_through_api(
    launch: Launch, database_url: str, users: int, events_per_user: int
) -> None:
    """Runs `usersuite serve` and creates `users` users through it, each then updated until it
    has `events_per_user` events; the server is stopped afterwards."""
    api = launch(serve_args(), server_env(database_url))
    await asyncio.to_thread(api.wait_ready)
    try:
        async with grpc.aio.insecure_channel(api.target) as channel:
            stub = user_pb2_grpc.UserServiceStub(channel)

            async def one(i: int) -> None:
                new = user_pb2.User(display_name=f"User {i}", email=f"bridge{i}@example.com")
                user = await stub.CreateUser(user_pb2.CreateUserRequest(user=new))
                for n in range(events_per_user - 1):
                    await stub.UpdateUser(
                        user_pb2.UpdateUserRequest(
                            user=user_pb2.User(name=user.name, display_name=f"N {n}"),
                            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                        )
                    )

            await asyncio.gather(*(one(i) for i in range(users)))
    finally:
        await asyncio.to_thread(api.stop)


def is_log_record(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "level" in record


async def test_a_bridge_killed_after_the_acks_before_the_mark_loses_and_repeats_nothing(
    api: UsersContainer,
    pg_url: str,
    nats_server: NatsServer,
    nc: Client,
    launch: Launch,
) -> None:
    await write_history(api.handlers, users=12, events_per_user=5)
    env = bridge_env(pg_url, nats_server.url)
    async with marks_blocked(pg_url):
        first = launch(["bridge"], env)
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

    await eventually(killed_session_gone, what="the killed bridge's session to end")
    # The kill came after the acks and before the mark: published, yet every row still pending.
    assert await outbox_states(pg_url) == {"pending": 60}
    assert await stream_count(nc) == 60
    await write_history(api.handlers, users=3, events_per_user=2, tag="later")

    second = launch(["bridge"], env)
    await wait_bridge_ready(second)
    await eventually(lambda: all_relayed(nc, pg_url, 66), what="66 events relayed")
    assert len(await assert_relayed(nc, pg_url)) == 66
    # The second bridge published all 66; JetStream acknowledged the 60 as duplicates.
    metrics = await asyncio.to_thread(scrape, env)
    assert metrics["usersuite_outbox_published_total"] == 66
    assert metrics["usersuite_outbox_duplicates_total"] == 60
    assert second.proc.poll() is None, second.output()


async def test_sigterm_mid_backlog_exits_0_and_leaves_no_row_half_relayed(
    migrated_database: str, launch: Launch, nats_server: NatsServer, nc: Client
) -> None:
    url = migrated_database
    await write_through_api(launch, url, users=20, events_per_user=10)
    env = bridge_env(url, nats_server.url, USERSUITE_BRIDGE__BATCH_SIZE="10")
    # The marks are held before the bridge starts, so the test, not the relay's speed, decides
    # that a batch is in flight: the first one is claimed and published, and waits to be marked.
    async with marks_blocked(url):
        bridge = launch(["bridge"], env)
        await wait_bridge_ready(bridge)
        # SIGTERM lands between the acks of a batch and its mark: the worst moment.
        assert await wait_published_not_marked(nc, url, in_flight=10) == 0
        bridge.terminate()

        async def still_running() -> bool:
            assert bridge.proc.poll() is None, f"exited with its batch unmarked\n{bridge.output()}"
            return True

        await stays_true_for(still_running, what="the bridge waiting to mark its batch")
    assert await asyncio.to_thread(bridge.wait) == 0, bridge.output()

    # The batch in flight was marked; the rest waits, unpublished and unlocked.
    await assert_relayed(nc, url, complete=False)
    states = await outbox_states(url)
    assert states == {"dispatched": 10, "pending": 190}, states
    async with await psycopg.AsyncConnection.connect(conninfo(url)) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM outbox FOR UPDATE NOWAIT) r"
        )
        assert await cursor.fetchone() == (200,)

    again = launch(["bridge"], env)
    await wait_bridge_ready(again)
    await eventually(lambda: all_relayed(nc, url, 200), what="the rest of the backlog")
    assert len(await assert_relayed(nc, url)) == 200


async def test_a_stream_with_other_subjects_is_refused_with_exit_2_and_one_line(
    migrated_database: str, nats_server: NatsServer, nc: Client
) -> None:
    await nc.jetstream().add_stream(StreamConfig(name="USER_V1", subjects=["other.>"]))
    env = bridge_env(migrated_database, nats_server.url)
    result = await asyncio.to_thread(run_usersuite, "bridge", env=env, timeout=60)
    assert result.returncode == 2, describe(result)
    assert BRIDGE_READY not in result.stdout, describe(result)
    # Beside the log records (JSON lines), the refusal is one line of its own.
    message = [line for line in result.stderr.splitlines() if not is_log_record(line)]
    assert len(message) == 1, describe(result)
    assert message[0].startswith("usersuite: stream USER_V1 exists with other subjects"), message
    info = await nc.jetstream().stream_info("USER_V1")
    assert info.config.subjects == ["other.>"], "the existing stream was changed"


async def test_a_bridge_started_before_nats_keeps_retrying_then_relays(
    migrated_database: str, launch: Launch
) -> None:
    url = migrated_database
    await write_through_api(launch, url, users=3, events_per_user=2)
    nats = NatsServer()  # its port and store, not started yet
    try:
        bridge = launch(["bridge"], bridge_env(url, nats.url))

        async def retried_twice() -> bool:
            assert bridge.proc.poll() is None, f"the bridge gave up\n{bridge.output()}"
            # Each failed attempt is logged with the address it tried.
            return bridge.stderr_text().count(str(nats.port)) >= 2

        try:
            await eventually(retried_twice, what="the bridge to retry NATS")
        except TimeoutError:
            pytest.fail(f"the bridge did not retry NATS\n{bridge.output()}")
        assert not any(line.startswith(BRIDGE_READY) for line in bridge.stdout_lines)
        await asyncio.to_thread(nats.start)
        await wait_bridge_ready(bridge, within=30)
        reader = await connect(nats.url, "test-reader", first_attempts=5)
        try:
            await eventually(lambda: all_relayed(reader, url, 6), what="6 events relayed")
            assert len(await assert_relayed(reader, url)) == 6
        finally:
            await reader.close()
    finally:
        nats.remove()
