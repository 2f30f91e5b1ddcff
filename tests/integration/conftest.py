"""Integration-tier fixtures: the API server observed through in-memory tracing, the
database of a downstream consumer, and the users service's reads on a module's own engine."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.support.consuming import effects_metadata
from tests.support.observing import HS256_SECRET, Observed, close, observe
from tests.support.tiers import mark_tier
from usersuite.platform.consumer import create_inbox
from usersuite.users.adapters.db.reads import SqlUserReads


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


@pytest.fixture
async def downstream(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """The downstream service's own engine, with its inbox and its effects table."""
    engine = create_async_engine(pg_url)
    await create_inbox(engine)
    async with engine.begin() as conn:
        await conn.run_sync(effects_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def reads(engine: AsyncEngine) -> AsyncIterator[SqlUserReads]:
    """The users service's reads on the `engine` fixture of the requesting module (each sizes
    its pool for what it holds)."""
    built = SqlUserReads(engine)
    yield built
    await built.close()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "integration")
