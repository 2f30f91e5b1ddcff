"""`usersuite outbox list|retry` as an operator runs it on parked rows, then a relay sends them."""

import json
import subprocess
from collections import Counter
from datetime import datetime
from typing import Any

import psycopg
from nats.aio.client import Client

from tests.support.events import write_history
from tests.support.nats import NatsServer
from tests.support.outbox import assert_relayed, outbox_entries
from tests.support.postgres import conninfo
from tests.support.processes import production_env, run_usersuite
from tests.support.relaying import relaying
from tests.support.tools import describe
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer

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
    api: UsersContainer, pg_url: str, nats_server: NatsServer, nc: Client
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
        await eventually(lambda: bridge.relayed(nc, pg_url, 6), what="6 events relayed")
    assert len(await assert_relayed(nc, pg_url)) == 6
