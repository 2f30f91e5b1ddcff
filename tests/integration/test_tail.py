"""`usersuite events tail` against a real nats-server: new events, --from-start, the real CLI."""

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from tests.support.events import STREAM, make_history, stream_has, stream_messages
from tests.support.nats import NatsServer
from tests.support.relaying import relayed_history, relaying
from tests.support.settings import make_settings
from tests.support.waiting import eventually, holds, stays_true_for
from usersuite.bootstrap import UsersContainer, tail_events
from usersuite.users.service import commands


async def consumers_on_stream(nc: Client, count: int) -> bool:
    """Called once a relay has provisioned the stream: a missing stream is an error here."""
    return int((await nc.jetstream().stream_info(STREAM)).state.consumer_count) == count


async def expected_lines(nc: Client) -> list[dict[str, Any]]:
    """What tail should print for every message in the stream, from the stored headers."""
    return [
        {
            "type": msg.headers["ce-type"],
            "id": msg.headers["ce-id"],
            "time": msg.headers["ce-time"],
            "subject": msg.headers["ce-subject"],
        }
        for msg in await stream_messages(nc)
    ]


def check_payload(line: dict[str, Any]) -> None:
    """The payload is the event in protobuf's JSON mapping, consistent with the headers."""
    payload = line["payload"]
    assert payload["metadata"]["eventId"] == line["id"]
    assert payload["metadata"]["aggregateName"] == line["subject"]
    assert payload["metadata"]["aggregateVersion"] == "1"  # int64 is a JSON string
    assert payload["user"]["name"] == line["subject"]
    assert payload["user"]["displayName"].startswith("User ")
    assert payload["user"]["email"].endswith("@example.com")


async def test_tail_waits_for_the_stream_to_exist(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    out = io.StringIO()
    settings = make_settings(pg_url, nats_url=nats_server.url)
    # No stream and no traffic yet: tail waits instead of failing.
    task = asyncio.create_task(
        tail_events(settings, subject="user.v1.>", from_start=False, out=out, limit=1)
    )
    await stays_true_for(holds(lambda: not task.done()), what="tail waiting for the stream")
    assert not task.done()
    async with relaying(pg_url, nats_server.url):
        await eventually(lambda: consumers_on_stream(nc, 1), what="tail's consumer")
        await api.handlers.create_user(commands.CreateUser("User 7", "late7@example.com"))
        assert await asyncio.wait_for(task, 30) == 0
    [line] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert line["payload"]["user"]["email"] == "late7@example.com"


async def test_tail_prints_new_events_only(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    out = io.StringIO()
    settings = make_settings(pg_url, nats_url=nats_server.url)
    async with relaying(pg_url, nats_server.url):
        before = await make_history(api.handlers, users=1, updates=0)
        await eventually(lambda: stream_has(nc, 1), what="the earlier event")
        task = asyncio.create_task(
            tail_events(settings, subject="user.v1.>", from_start=False, out=out, limit=2)
        )
        await eventually(lambda: consumers_on_stream(nc, 1), what="tail's consumer")
        assert not task.done()
        assert out.getvalue() == ""
        # Only what is published from now on is printed.
        await api.handlers.create_user(commands.CreateUser("User 8", "late8@example.com"))
        await api.handlers.create_user(commands.CreateUser("User 9", "late9@example.com"))
        assert await asyncio.wait_for(task, 30) == 0

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    expected = await expected_lines(nc)
    assert [{k: v for k, v in line.items() if k != "payload"} for line in lines] == expected[1:]
    assert all(line["type"] == "user.v1.UserCreated" for line in lines)
    assert f"users/{before[0]}" not in {line["subject"] for line in lines}
    for line in lines:
        check_payload(line)
    assert sorted(line["payload"]["user"]["email"] for line in lines) == [
        "late8@example.com",
        "late9@example.com",
    ]


async def test_tail_from_start_replays_earlier_events(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
) -> None:
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=3, updates=0)
    out = io.StringIO()
    settings = make_settings(pg_url, nats_url=nats_server.url)
    run = tail_events(settings, subject="user.v1.>", from_start=True, out=out, limit=3)
    assert await asyncio.wait_for(run, 30) == 0

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    expected = await expected_lines(nc)
    assert [{k: v for k, v in line.items() if k != "payload"} for line in lines] == expected
    for line in lines:
        check_payload(line)


async def test_the_cli_tails_with_a_subject_filter_from_the_start(
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client, tmp_path: Path
) -> None:
    ids = await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=2, updates=1)
    env = {**os.environ, "USERSUITE_NATS_URL": nats_server.url}
    usersuite = Path(sys.executable).with_name("usersuite")
    command = [
        str(usersuite), "events", "tail", "--from-start", "--limit", "2",
        "--subject", "user.v1.UserUpdated",
    ]  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["user.v1.UserUpdated"] * 2
    assert sorted(line["subject"] for line in lines) == sorted(f"users/{i}" for i in ids)
    for line in lines:
        assert line["payload"]["metadata"]["aggregateVersion"] == "2"
        assert line["payload"]["changedFields"] == "displayName"
        assert line["payload"]["user"]["displayName"] == "Name 0"
