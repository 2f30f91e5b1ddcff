"""A claimed batch published in two halves, each marked while the next one publishes.

Marking a half (an UPDATE of its rows, on the relay's session) takes PostgreSQL a few
milliseconds that the relay would otherwise spend waiting; publishing the next half meanwhile
keeps the relay busy. A mark's statement leaves before the next half's sends begin (one turn of
the event loop): the sends hold the loop for milliseconds, and a statement sent only after them
(when the publisher first waits) left PostgreSQL idle meanwhile and the relay waiting for the mark
afterwards. The claim beside a publish (relay.py) goes out first the same way. The order of a
relay's work stays what it was:
- a half goes out only once every event of the half before it was acknowledged, so a user's
  events still reach the stream in order; a user whose event failed sends nothing more (its
  later rows stay pending), and a transient failure (NATS unreachable) stops the batch;
- a half goes out only once the half before the previous one is marked, so no more than a
  batch (two halves) is ever published and not yet marked;
- the session runs one statement at a time: every mark, and the claim of the next batch
  running beside a publish, takes the session's lock in turn.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from usersuite.platform.nats.publisher import Publisher
from usersuite.platform.service.outbox import BatchResult, OutboxRow

# Marks `rows` by the outcome of publishing them; returns the rows now parked.
Mark = Callable[[list[OutboxRow], BatchResult], Awaitable[list[int]]]


def halves(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    middle = (len(rows) + 1) // 2
    return [half for half in (list(rows[:middle]), list(rows[middle:])) if half]


class HalvesInFlight:
    """Publishes batches half by half into one result; `finish` waits for the last mark."""

    def __init__(self, publisher: Publisher, mark: Mark, session: asyncio.Lock) -> None:
        self._publisher = publisher
        self._mark = mark
        self._session = session
        self._marking: asyncio.Future[list[int]] | None = None
        self.parked: list[int] = []

    async def relay(self, rows: Sequence[OutboxRow], result: BatchResult) -> None:
        """Publishes `rows` half by half, adding their outcome to `result`."""
        stopped: set[str] = set()
        for half in halves(rows):
            part = BatchResult()
            going = [row for row in half if row.aggregate_name not in stopped]
            await self._publisher.publish(going, part)
            if self._marking is not None:
                self.parked += await self._marking
            self._marking = asyncio.ensure_future(self._marked(half, part))
            # One turn of the loop, so the mark's statement is on its way to PostgreSQL before
            # the next half's sends take the loop: PostgreSQL marks while this process encodes.
            await asyncio.sleep(0)
            result.acked += part.acked
            result.failures += part.failures
            if part.transient_failure:
                return
            failed = {failure.seq for failure in part.failures}
            stopped.update(row.aggregate_name for row in going if row.seq in failed)

    async def _marked(self, half: list[OutboxRow], part: BatchResult) -> list[int]:
        async with self._session:
            return await self._mark(half, part)

    async def finish(self) -> None:
        """Waits for the last half's mark."""
        if self._marking is not None:
            marking, self._marking = self._marking, None
            self.parked += await marking

    async def settle(self) -> None:
        """After a failure: nothing of this batch is left running on the session."""
        if self._marking is not None:
            await asyncio.gather(self._marking, return_exceptions=True)
