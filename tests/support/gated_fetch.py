"""A coalescer's fetch that the test opens and closes itself (tests/unit/test_coalescing*.py)."""

import asyncio
from collections.abc import Sequence

from usersuite.platform.service import request_context


class GatedFetch:
    """Records each query's keys and deadline; each query waits until the test releases it."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.deadlines: list[float | None] = []
        self.started = asyncio.Event()
        self.gates: list[asyncio.Event] = []
        self.fail = fail

    async def __call__(self, keys: Sequence[str]) -> dict[str, str]:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.calls.append(list(keys))
        self.deadlines.append(request_context.deadline.get())
        self.started.set()
        await gate.wait()
        if self.fail is not None:
            raise self.fail
        return {key: key.upper() for key in keys if not key.startswith("missing")}

    async def wait_for_query(self, number: int) -> None:
        while len(self.calls) < number:
            self.started.clear()
            await self.started.wait()


async def settle() -> None:
    """Lets every ready callback and task run (a few turns of the loop, no clock involved)."""
    for _ in range(5):
        await asyncio.sleep(0)
