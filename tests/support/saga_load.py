"""The bounded order load of the saga's crash test: placers that place a fixed number of orders
(each only once the fault script's gate lets it through) and cancel some approved ones, and a
watch that samples billing's credit invariant while they run."""

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from order.v1 import order_pb2
from tests.support.saga_invariants import credit_snapshot
from usersuite.client import DeadlineExceeded, OrderClient, Unavailable, line_item

ORDERS = 160
PLACERS = 4
# A placer looks at one of its earlier orders every this many orders, and cancels it if approved.
CANCEL_EVERY = 3
# Client calls refused while a process is down are retried (same request id) this often.
RETRIES = 80
# The longest a gate's orders may take to be placed (the process they need restarting).
REACH_WITHIN = 120.0
# How often the watch samples the accounts while the load runs.
SAMPLE_SECONDS = 0.25
State = order_pb2.Order.State

T = TypeVar("T")


async def retried(call: Callable[[], Awaitable[T]]) -> T:
    """The call, again while the service is down or restarting (bounded)."""
    for attempt in range(RETRIES):
        try:
            return await call()
        except (Unavailable, DeadlineExceeded):
            if attempt == RETRIES - 1:
                raise
            # Backoff between attempts at a process that is coming back; not a wait for an effect.
            await asyncio.sleep(min(0.05 * 2**attempt, 0.5))
    raise AssertionError("unreachable")


class Load:
    """The placers: order n goes out once the gate passed n; every few orders a placer cancels
    one of its earlier orders that it finds APPROVED."""

    def __init__(self, client: OrderClient, users: list[str]) -> None:
        self.client, self.users = client, users
        self.allowed = self.placed = 0
        self.changed = asyncio.Condition()
        self.names: list[str] = []
        self.cancelled: list[str] = []
        self.failures: list[Exception] = []

    async def allow(self, count: int) -> None:
        async with self.changed:
            self.allowed = count
            self.changed.notify_all()

    async def reach(self, count: int) -> None:
        """Until `count` orders were placed (bounded); a placer's failure is raised here."""

        def reached() -> bool:
            return self.placed >= count or bool(self.failures)

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(reached), REACH_WITHIN)
        if self.failures:
            raise self.failures[0]

    async def place(self, n: int) -> str:
        shape = random.Random(n)
        lines = [line_item(f"SKU-{n}", shape.randint(1, 2), shape.randrange(300, 1500, 50))]
        request_id = str(uuid.uuid4())
        user = self.users[n % len(self.users)]
        order = await retried(lambda: self.client.create_order(user, lines, request_id=request_id))
        return order.name

    async def cancel_if_approved(self, name: str) -> None:
        order = await retried(lambda: self.client.get_order(name))
        if order.state != State.STATE_APPROVED:
            return
        request_id = str(uuid.uuid4())
        done = await retried(lambda: self.client.cancel_order(name, request_id=request_id))
        assert done.state == State.STATE_CANCELLED, done
        self.cancelled.append(name)

    async def placer(self, index: int) -> None:
        try:
            await self._place_all(index)
        except Exception as failure:
            async with self.changed:
                self.failures.append(failure)
                self.changed.notify_all()
            raise

    async def _place_all(self, index: int) -> None:
        mine: list[str] = []
        for n in range(index, ORDERS, PLACERS):
            async with self.changed:
                await self.changed.wait_for(lambda n=n: self.allowed > n)  # type: ignore[misc]
            mine.append(await self.place(n))
            self.names.append(mine[-1])
            async with self.changed:
                self.placed += 1
                self.changed.notify_all()
            if len(mine) % CANCEL_EVERY == 0:
                await self.cancel_if_approved(mine[len(mine) // 2])


class CreditWatch:
    """Samples billing's accounts while the faults strike: in every snapshot each account's
    reserved credit is the sum of its active reservations and within its limit."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.samples = 0
        self.violations: list[str] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        while not self.stop.is_set():
            self.violations += (await credit_snapshot(self.engine))[1]
            self.samples += 1
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), SAMPLE_SECONDS)

    async def finish(self, task: "asyncio.Task[None]") -> None:
        """Stops sampling and waits for the last sample (again: a no-op)."""
        self.stop.set()
        await task
