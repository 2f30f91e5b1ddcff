"""Bridge scenarios: committed outbox rows to JetStream acks, raw publish_async, commit-to-ack."""

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import psycopg
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bench import plans
from bench.processes import running, say
from bench.report import Row
from bench.stack import LOAD_CPU, SERVER_CPU, Stack, plain
from tests.support.nats import NatsServer
from user.v1 import events_pb2, user_pb2
from usersuite.platform.db.partitions import partition_key

STREAM = "USER_V1"
RAW_STREAM, RAW_SUBJECT = "BENCH_RAW", "bench.raw"
TICK_SECONDS = 0.01
EVENTS_PER_SECOND = 1000


def event_payload() -> bytes:
    """A UserCreated event of realistic size (what CreateUser writes)."""
    user = user_pb2.User(name="users/bench", display_name="Bench User", email="b@example.com")
    meta = events_pb2.EventMetadata(event_id=str(uuid.uuid4()), aggregate_name="users/bench")
    return events_pb2.UserCreated(metadata=meta, user=user).SerializeToString()


# The columns every outbox row needs, with the partition key the product's outbox writer gives
# each row (a hash of its user: bridges sharing the partitions split the users between them);
# the rest have server defaults.
SEED = """
INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name, aggregate_version,
                    partition_key, payload, occurred_time)
SELECT gen_random_uuid()::text, 'user.v1.UserCreated', 'user.v1.User', name, g, key,
       %(payload)s, clock_timestamp()
FROM unnest(%(names)s::text[], %(keys)s::int[]) WITH ORDINALITY AS row(name, key, g)
"""
TICK = """
INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name, aggregate_version,
                    partition_key, payload, occurred_time)
SELECT id, 'user.v1.UserCreated', 'user.v1.User', name, 1, key, %(payload)s, clock_timestamp()
FROM unnest(%(ids)s::text[], %(names)s::text[], %(keys)s::int[]) AS row(id, name, key)
"""


def keyed(names: list[str]) -> dict[str, list[str] | list[int]]:
    """The aggregate names of rows to insert and the partition key of each."""
    return {"names": names, "keys": [partition_key(name) for name in names]}


def seeded(count: int, users: int) -> dict[str, list[str] | list[int]]:
    """SEED's parameters: `count` rows spread over `users` users, in order."""
    return keyed([f"users/bench-{row % users}" for row in range(1, count + 1)])


@contextlib.contextmanager
def on_one_core(cpu: int = SERVER_CPU) -> Iterator[None]:
    """This process on one core (the server's, while it publishes like the bridge under test)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


async def _stream_messages(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def raw_publish(nats_url: str, count: int) -> Row:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await js.add_stream(name=RAW_STREAM, subjects=[RAW_SUBJECT])
        payload = event_payload()
        with on_one_core():
            started = time.perf_counter()
            for _ in range(count):
                await js.publish_async(
                    RAW_SUBJECT, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())}
                )
            await js.publish_async_completed()
            elapsed = time.perf_counter() - started
        await js.delete_stream(RAW_STREAM)
    finally:
        await client.close()
    return Row("bridge", plans.RAW_PUBLISH, "events/s", count / elapsed)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds(stat: str) -> float:
    """CPU time all cores spent busy, in seconds, from /proc/stat's text: every column of its
    first line but idle and iowait (guest time is already inside user)."""
    ticks = [int(field) for field in stat.split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """How busy the machine has been so far (busy_seconds of /proc/stat now)."""
    return busy_seconds(Path("/proc/stat").read_text())


async def relay_throughput(
    name: str,
    database_url: str,
    nats_url: str,
    count: int,
    users: int,
    *,
    bridge_pids: tuple[int, ...],
) -> Row:
    """Commits `count` pending rows at once, then times them until JetStream holds them all.

    The note adds the bridges' CPU time per event (on a shared machine the rate moves with
    the load, the CPU an event costs much less) and how many of the machine's cores the run
    kept busy (bridges, PostgreSQL, nats-server and this process together): what a second
    bridge could gain is bounded by the cores left idle."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        before = await _stream_messages(js, STREAM)
        async with await psycopg.AsyncConnection.connect(
            plain(database_url), autocommit=True
        ) as conn:
            await conn.execute(SEED, {"payload": event_payload(), **seeded(count, users)})
            cpu_before = sum(map(cpu_seconds, bridge_pids))
            machine_before = machine_busy_seconds()
            started = time.perf_counter()
            while await _stream_messages(js, STREAM) < before + count:
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            busy = (machine_busy_seconds() - machine_before) / elapsed
            await _until_marked(conn)
            cpu_per_event = (sum(map(cpu_seconds, bridge_pids)) - cpu_before) / count * 1e6
    finally:
        await client.close()
    bridges = "bridge" if len(bridge_pids) == 1 else f"{len(bridge_pids)} bridges'"
    note = (
        f"{count:,} rows of {users:,} user(s); {bridges} CPU {cpu_per_event:,.0f} µs/event;"
        f" machine busy {busy:.2f} of {os.cpu_count()} cores"
    )
    return Row("bridge", name, "events/s", count / elapsed, note=note)


async def _until_marked(conn: psycopg.AsyncConnection) -> None:
    """The next scenario starts with an idle bridge: every row marked dispatched."""
    while True:
        cursor = await conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'")
        row = await cursor.fetchone()
        if row is not None and row[0] == 0:
            return
        await asyncio.sleep(0.05)


async def commit_to_ack(database_url: str, nats_url: str, seconds: float) -> Row:
    """Commits 10 rows every 10 ms; the latency is commit to delivery from the stream,
    which JetStream does only after storing the message (the moment it acks the bridge)."""
    committed: dict[str, float] = {}
    # By event id; an event can arrive before its INSERT's reply is read (the bench process is
    # busy too), so arrivals are matched with commits at the end.
    arrivals: dict[str, float] = {}
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()

        async def arrived(msg: Msg) -> None:
            arrivals[(msg.headers or {}).get("Nats-Msg-Id", "")] = time.perf_counter()

        subscription = await js.subscribe("user.v1.>", cb=arrived, ordered_consumer=True,
                                          deliver_policy=nats.js.api.DeliverPolicy.NEW)  # fmt: skip
        per_tick = int(EVENTS_PER_SECOND * TICK_SECONDS)
        ticks = int(seconds / TICK_SECONDS)
        payload = event_payload()
        async with await psycopg.AsyncConnection.connect(
            plain(database_url), autocommit=True
        ) as conn:
            started = time.perf_counter()
            for tick in range(ticks):
                await asyncio.sleep(max(0.0, started + tick * TICK_SECONDS - time.perf_counter()))
                ids = [str(uuid.uuid4()) for _ in range(per_tick)]
                rows = keyed([f"users/latency-{event}" for event in ids])
                await conn.execute(TICK, {"ids": ids, "payload": payload, **rows})
                now = time.perf_counter()
                committed.update(dict.fromkeys(ids, now))
            rate = len(committed) / (time.perf_counter() - started)
            deadline = time.perf_counter() + 30
            while not committed.keys() <= arrivals.keys() and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            await _until_marked(conn)
        await subscription.unsubscribe()
    finally:
        await client.close()
    latencies = [
        max(0.0, arrivals[event] - at) * 1000
        for event, at in committed.items()
        if event in arrivals
    ]
    if len(latencies) < 2:
        return Row("bridge", plans.COMMIT_TO_ACK, "events/s", rate, note="no event arrived")
    cuts = statistics.quantiles(latencies, n=100)
    lost = len(committed) - len(latencies)
    note = f"{len(latencies):,} events" + (f", {lost} not seen in 30 s" if lost else "")
    return Row("bridge", plans.COMMIT_TO_ACK, "events/s", rate, cuts[49], cuts[98], note=note)


# Rounds of the relay rows: each a raw publish, then the bridge on the three key spreads.
ROUNDS, QUICK_ROUNDS = 3, 1
SPREADS = ((plans.BRIDGE_MANY, None), (plans.BRIDGE_100, 100), (plans.BRIDGE_HOT, 1))


def median_of_rounds(runs: list[Row], raw_capacity: float | None = None) -> Row:
    """The run of median rate, its note saying so, paired with `raw_capacity`: one run's rate
    swings with the shared machine's load."""
    row = sorted(runs, key=lambda run: run.value or 0.0)[len(runs) // 2]
    if len(runs) > 1:
        row.note = "; ".join(part for part in (f"median of {len(runs)} runs", row.note) if part)
        row.paired = raw_capacity
    return row


def relay_rows(raws: list[Row], relayed: dict[str, list[Row]]) -> list[Row]:
    """Raw publish's row and each spread's, from their runs over the rounds.

    Raw publish runs at about 20k or 30k events/s here, round by round (whatever else the shared
    machine runs): its fastest run is the capacity each spread is judged against, so a slow raw
    run cannot flatter the relay."""
    capacity = max(raw.value or 0.0 for raw in raws)
    return [median_of_rounds(raws), *(median_of_rounds(relayed[n], capacity) for n, _ in SPREADS)]


def scenarios(stack: Stack, rows_per_run: int, latency_seconds: float, rounds: int) -> list[Row]:
    """Raw publish_async, then the bridge (pinned to the server's core) on three key spreads.

    The bridge's first run, a fresh bridge on a fresh outbox, is the cold row, judged against
    the warm many-users row; after it the bridge's statements are planned and prepared and its
    caches filled, as a running bridge's are. Then `rounds` rounds alternate raw publish and
    the three spreads; each spread's ratio is to the fastest raw run of those rounds."""
    url = stack.database("bench_bridge")
    stack.migrate(url)
    nats_server = NatsServer().start()
    try:
        with running(stack.bridge(url, nats_server.url)) as bridge:
            pids = (bridge.pid,)
            first = relay_throughput(plans.BRIDGE_COLD, url, nats_server.url, rows_per_run,
                                     rows_per_run, bridge_pids=pids)  # fmt: skip
            cold = asyncio.run(first)
            say(f"{plans.BRIDGE_COLD}: {cold.value:,.0f} events/s")
            raws: list[Row] = []
            relayed: dict[str, list[Row]] = {name: [] for name, _ in SPREADS}
            for _ in range(rounds):
                raws.append(asyncio.run(raw_publish(nats_server.url, rows_per_run)))
                say(f"{plans.RAW_PUBLISH}: {raws[-1].value:,.0f} events/s")
                for name, users in SPREADS:
                    run = relay_throughput(
                        name, url, nats_server.url, rows_per_run, users or rows_per_run,
                        bridge_pids=pids,
                    )  # fmt: skip
                    relayed[name].append(asyncio.run(run))
                    say(f"{name}: {relayed[name][-1].value:,.0f} events/s")
            rows = [*relay_rows(raws, relayed), cold]
            rows.append(asyncio.run(commit_to_ack(url, nats_server.url, latency_seconds)))
            say(f"{plans.COMMIT_TO_ACK}: p99 {rows[-1].p99_ms or 0:,.1f} ms")
            rows.append(Row("memory", plans.RSS_BRIDGE, "MB", bridge.peak_rss_mb()))
            rows.append(two_bridges(stack, url, nats_server.url, rows_per_run, bridge.pid))
            say(f"{plans.BRIDGE_TWO}: {rows[-1].value:,.0f} events/s")
    finally:
        nats_server.remove()
    return rows


def two_bridges(stack: Stack, url: str, nats_url: str, count: int, first_pid: int) -> Row:
    """A second bridge, on the load core, shares the partitions with the first (server core).

    On two cores PostgreSQL, nats-server and this process share the bridges' cores, so the
    row shows what sharing costs and gains here, not how bridges scale with a core each: the
    notes' "machine busy" says how close the run came to using both cores."""
    with running(stack.bridge(url, nats_url, cpu=LOAD_CPU)) as second:
        # Each bridge re-plans its share every rebalance interval (2 s): until the first has
        # given half the partitions back, the second stands by.
        time.sleep(3 * 2.0)
        run = relay_throughput(
            plans.BRIDGE_TWO, url, nats_url, count, count, bridge_pids=(first_pid, second.pid)
        )
        return asyncio.run(run)
