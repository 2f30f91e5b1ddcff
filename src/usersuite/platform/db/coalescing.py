"""Point reads coalesced: the reads that arrive while one is in flight share the next query.

A DataLoader-style batcher behind a repository port. A read that finds nothing in flight runs its
own query at once, in its own task; reads that arrive while queries are in flight (at most
`in_flight` of them) wait and start the next one together, on the next turn of the event loop
after the last one ends, so under load one `WHERE id = ANY(...)` answers many calls and at one
call at a time nothing waits.

Under concurrency a query is short next to the calls around it (their interceptors, mapping and
grpc's own work), so few reads ever find one in flight: measured here, 1.16 reads a query at 50
concurrent GetUser calls. So once reads have lately shared queries (the largest query of the last
second or two answered several), a read that finds nothing in flight waits up to `window_seconds`
for company, and the query starts when the window ends or as many reads wait as that largest
query answered. Reads of a lone caller never share a query, so they never wait.

With `gather_after_query` the reads left waiting when a query ends do the same: fewer than that
largest query answered wait up to the window for more. The group commit of writes
(platform/db/group_commit.py) sets it: there a statement is in flight almost all the time under
load, so without it a statement carried only the two or so commits that came during the last
one, and a statement's own cost, not the commits', bounded the rate. GetUser's point reads
(users/adapters/db/reads.py) set it too: at 50 concurrent calls their queries answered about
three reads each without it, about seven with it.

Consistency: a read joins only a query that has not started yet, so every query starts after
each of its reads arrived and sees every write committed before that read's request came (the
same read-committed view one query per call gives).

The query runs in a task of its own, in an empty context (no caller's trace or principal leaks
into it), bounded by the latest deadline among its callers: a caller whose own deadline passes
is cancelled by its deadline and stops waiting; the query serves the others. A batcher of writes
(platform/db/group_commit.py) bounds it by the earliest one instead (`earliest_deadline`), so a
statement never runs on after any of its callers gave up.
"""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from usersuite.platform.service import request_context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Keys per query: far beyond what a server's concurrent calls ask for, and a bound on the
# statement's size when a flood of calls queues behind a slow query.
MAX_BATCH = 512
# How long the largest query's reads count as recent (see Coalescer._company).
PEAK_PERIOD_SECONDS = 1.0


class Coalescer(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[Sequence[K]], Awaitable[dict[K, V]]],
        *,
        in_flight: int = 1,
        max_batch: int = MAX_BATCH,
        window_seconds: float = 0.0,
        earliest_deadline: bool = False,
        gather_after_query: bool = False,
    ) -> None:
        if in_flight < 1 or max_batch < 1 or window_seconds < 0:
            raise ValueError(
                "a coalescer needs at least one query in flight, one key each "
                "and no negative window"
            )
        self._fetch = fetch
        self._in_flight = in_flight
        self._max_batch = max_batch
        self._window = window_seconds
        self._earliest = earliest_deadline
        self._gather_after = gather_after_query
        self._pending: dict[K, list[asyncio.Future[V | None]]] = {}
        self._waiting = 0
        self._deadlines: list[float | None] = []
        self._running = 0
        self._scheduled = False
        self._window_ends: asyncio.TimerHandle | None = None
        self._peak = self._last_peak = 0
        self._period_ends = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self.queries = 0  # how many queries ran (tests and metrics read it)

    @property
    def waiting(self) -> int:
        """How many reads wait for a query to start."""
        return self._waiting

    async def get(self, key: K) -> V | None:
        """The value stored for `key`, or None, from a query that starts after this call."""
        loop = asyncio.get_running_loop()
        idle = not self._running and not self._pending
        company = self._company(loop.time())
        if idle and (not self._window or company < 2):
            return await self._alone(key)
        future: asyncio.Future[V | None] = loop.create_future()
        self._pending.setdefault(key, []).append(future)
        self._waiting += 1
        self._deadlines.append(request_context.deadline.get())
        if idle:
            # Reads have lately shared queries: others are likely on their way.
            self._scheduled = True
            self._window_ends = loop.call_later(
                self._window, self._start, context=contextvars.Context()
            )
        elif self._window_ends is not None and self._waiting >= company:
            # As many wait as the largest query lately answered: few others would come.
            self._window_ends.cancel()
            self._window_ends = None
            loop.call_soon(self._start, context=contextvars.Context())
        else:
            self._schedule(loop)
        return await future

    def _company(self, now: float) -> int:
        """The most reads one query answered lately (in this period or the last one), so the
        window's expectation decays within two periods once the load falls."""
        if now >= self._period_ends:
            # The period that just ended is the last one only if it ended a period ago or less.
            ended_lately = now < self._period_ends + PEAK_PERIOD_SECONDS
            self._last_peak, self._peak = (self._peak if ended_lately else 0), 0
            self._period_ends = now + PEAK_PERIOD_SECONDS
        return max(self._peak, self._last_peak)

    async def _alone(self, key: K) -> V | None:
        """Nothing in flight and nobody waiting: the read's own query, at once, in its own task
        (its deadline and trace), without waiting a turn. Reads that come meanwhile wait for it
        to finish and share the next query, as behind any other."""
        self._running += 1
        try:
            self.queries += 1
            return (await self._fetch([key])).get(key)
        finally:
            self._running -= 1
            if self._pending:
                self._schedule(asyncio.get_running_loop())

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled and self._running < self._in_flight:
            self._scheduled = True
            if self._gather_after and self._window and self._waiting < self._company(loop.time()):
                # Fewer wait than a query lately answered: wait for company, as a read that
                # finds nothing in flight does (get() starts it once enough wait).
                self._window_ends = loop.call_later(
                    self._window, self._start, context=contextvars.Context()
                )
                return
            loop.call_soon(self._start, context=contextvars.Context())

    def _start(self) -> None:
        self._scheduled = False
        self._window_ends = None
        if not self._pending or self._running >= self._in_flight:
            return
        keys = list(self._pending)[: self._max_batch]
        batch = {key: self._pending.pop(key) for key in keys}
        reads = sum(len(futures) for futures in batch.values())
        self._waiting -= reads
        self._peak = max(self._peak, reads)
        deadlines, self._deadlines = self._deadlines, []
        deadline = self._bound(deadlines)
        if self._pending:  # more than one batch's worth: their deadlines stay counted
            self._deadlines.append(deadline)
        self._running += 1
        task = asyncio.get_running_loop().create_task(
            self._run(batch, deadline), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._pending:
            self._schedule(asyncio.get_running_loop())

    def _bound(self, deadlines: list[float | None]) -> float | None:
        """The query's deadline: the latest of its callers' (None, no deadline, outranks every
        number), or with `earliest_deadline` the earliest one (None only if no caller has one)."""
        if self._earliest:
            return min((d for d in deadlines if d is not None), default=None)
        return None if None in deadlines else max(d for d in deadlines if d is not None)

    async def _run(
        self, batch: dict[K, list[asyncio.Future[V | None]]], deadline: float | None
    ) -> None:
        try:
            request_context.deadline.set(deadline)
            self.queries += 1
            values = await self._fetch(list(batch))
        except Exception as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
        except BaseException:
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        else:
            for key, futures in batch.items():
                value = values.get(key)
                for future in futures:
                    if not future.done():
                        future.set_result(value)
        finally:
            self._running -= 1
            if self._pending:
                self._schedule(asyncio.get_running_loop())
