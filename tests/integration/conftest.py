"""Integration-tier fixtures: the API server observed through in-memory tracing."""

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.observing import HS256_SECRET, Observed, close, observe


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.shutdown()


@pytest.fixture
async def observed(pg_url: str, exporter: InMemorySpanExporter) -> AsyncIterator[Observed]:
    running = await observe(pg_url, exporter)
    yield running
    await close(running)


@pytest.fixture
async def observed_with_auth(
    pg_url: str, exporter: InMemorySpanExporter
) -> AsyncIterator[Observed]:
    auth = {"enabled": True, "hs256_secret": HS256_SECRET}
    running = await observe(pg_url, exporter, auth=auth)
    yield running
    await close(running)
