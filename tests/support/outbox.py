"""The outbox as tests inspect it, and the check that the stream holds exactly what it relayed."""

import contextlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from nats.aio.client import Client

from tests.support.events import event_key, stream_count, stream_messages
from tests.support.postgres import conninfo, lock_waiters
from tests.support.waiting import eventually


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
    return await lock_waiters(url, "UPDATE outbox%") > 0


async def wait_published_not_marked(nc: Client, url: str, in_flight: int) -> int:
    """Waits until a relay has published `in_flight` more events than are dispatched and waits to
    mark them; returns how many are dispatched."""
    dispatched = -1

    async def stuck() -> bool:
        nonlocal dispatched
        dispatched = (await outbox_states(url))["dispatched"]
        return await stream_count(nc) == dispatched + in_flight and await waiting_to_mark(url)

    await eventually(stuck, within=30, what=f"{in_flight} events published and not marked")
    return dispatched
