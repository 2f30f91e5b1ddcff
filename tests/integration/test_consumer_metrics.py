"""The consumer SDK counts its dead letters per consumer (the dead-letters alert's metric)."""

import pytest
from nats.aio.client import Client
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.consuming import Recorder, quick, running
from tests.support.events import stream_has
from tests.support.nats import NatsServer
from tests.support.relaying import relayed_history
from tests.support.waiting import eventually
from usersuite.bootstrap import UsersContainer
from usersuite.platform.consumer import Consumer, ConsumerMetrics

pytestmark = pytest.mark.integration
DLQ = "USER_V1_DLQ"


async def test_a_dead_letter_counts_for_its_consumer(
    api: UsersContainer, pg_url: str, downstream: AsyncEngine, nats_server: NatsServer, nc: Client
) -> None:
    await relayed_history(api.handlers, pg_url, nats_server.url, nc, users=1, updates=0)
    registry = CollectorRegistry()
    handler = Recorder("always-fails", fail=lambda _event, _call: True)
    consumer = Consumer(
        nc, downstream, handler, quick("always-fails"), metrics=ConsumerMetrics(registry)
    )
    async with running(consumer):
        await eventually(lambda: stream_has(nc, 1, DLQ), what="the dead letter")
    sample = "usersuite_consumer_dead_letters_total"
    assert registry.get_sample_value(sample, {"consumer": "always-fails"}) == 1
