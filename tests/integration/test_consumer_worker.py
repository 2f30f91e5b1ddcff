"""A consumer run beside an API (ConsumerWorker): it connects itself, handles the stream, and
stops cleanly, whether it was handling messages or still waiting for NATS."""

from collections import Counter

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.consuming import Recorder, effect_rows, last_seq, quick, settled
from tests.support.events import stream_messages
from tests.support.nats import NatsServer
from tests.support.relaying import relayed_history
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.consumer import ConsumerWorker


async def test_a_worker_consumes_the_stream_and_stops_with_its_connection(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=2, updates=1)
    event_ids = [m.headers["ce-id"] for m in await stream_messages(nc)]
    worker = ConsumerWorker(nats_server.url, downstream, Recorder("beside"), quick("beside"))
    assert not worker.connected

    worker.start()
    try:
        await eventually(lambda: effects_are(downstream, len(event_ids)), what="every effect")
        await eventually(settled(nc, "beside", await last_seq(nc)), what="all acknowledged")
        assert worker.connected
    finally:
        await worker.stop()

    assert Counter(await effect_rows(downstream)) == Counter(event_ids)
    assert not worker.connected


async def test_a_worker_still_waiting_for_nats_stops_at_once(downstream: AsyncEngine) -> None:
    # Nothing listens on port 9 (discard) of loopback: the worker keeps retrying to connect.
    worker = ConsumerWorker("nats://127.0.0.1:9", downstream, Recorder("never"), quick("never"))
    worker.start()
    await worker.stop()
    assert not worker.connected
    assert await effect_rows(downstream) == []


async def effects_are(downstream: AsyncEngine, count: int) -> bool:
    return len(await effect_rows(downstream)) == count
