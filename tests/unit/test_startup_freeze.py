"""A serving process moves what its start-up built out of the garbage collector's sight."""

import asyncio
import gc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from usersuite.platform.ops.lifecycle import run_until_stopped


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process's objects go back to the collector


async def test_start_up_objects_are_frozen_once_the_server_started(unfrozen: None) -> None:
    stopping = asyncio.Event()
    frozen_at: dict[str, int] = {}

    async def start() -> str:
        frozen_at["start"] = gc.get_freeze_count()
        return "server"

    def announce(_running: str) -> None:
        frozen_at["announce"] = gc.get_freeze_count()
        stopping.set()

    async def stop(_running: str) -> None:
        return None

    await run_until_stopped(
        stopping,
        metrics_listen=None,
        registry=CollectorRegistry(),
        start=start,
        ready=lambda _running: True,
        announce=announce,
        stop=stop,
    )
    assert frozen_at["start"] == 0
    assert frozen_at["announce"] > 0
