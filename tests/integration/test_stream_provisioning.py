"""The bridge waits out a JetStream that does not answer yet, then provisions its stream."""

import asyncio
import logging

import pytest

from tests.support.nats import NatsServer
from tests.support.settings import relay_settings
from tests.support.waiting import eventually, holds, stays_true_for
from usersuite.bootstrap import bootstrap_bridge


async def test_the_bridge_waits_for_jetstream_and_provisions_the_stream_once_it_answers(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="usersuite.platform.nats.jetstream")
    server = NatsServer().start(jetstream=False)
    settings = relay_settings(pg_url, server.url)
    starting = asyncio.create_task(bootstrap_bridge(settings))
    try:
        await eventually(
            holds(lambda: "JetStream does not answer for stream USER_V1" in caplog.text),
            what="the bridge saying JetStream does not answer",
        )
        await stays_true_for(holds(lambda: not starting.done()), what="the bridge waiting")
        # The same address again, now with JetStream: the bridge's client reconnects.
        server.stop()
        server.start()
        bridge = await asyncio.wait_for(starting, 60)
        try:
            info = await bridge.nats.jetstream().stream_info("USER_V1")
            assert list(info.config.subjects or []) == list(settings.stream.subjects)
        finally:
            await bridge.close()
    finally:
        starting.cancel()  # a no-op once it finished
        await asyncio.gather(starting, return_exceptions=True)
        server.remove()
