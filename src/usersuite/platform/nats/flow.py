"""The events one `Publisher._flow` keeps in flight, many aggregates at once, read as their
acknowledgements arrive (in their futures' done-callbacks): an acknowledged event's chain is
ready for its next event, a failed one's is stopped, and the publishing coroutine is woken to
send what is ready. Sends stay in that coroutine, never in a callback."""

import asyncio
from typing import Protocol

from nats.js.api import PubAck

from usersuite.platform.nats.messages import EventHeaders
from usersuite.platform.service.outbox import BatchResult, OutboxRow

# One aggregate's events still to publish, each with its encoded headers; the next at the end.
Chain = list[tuple[OutboxRow, EventHeaders]]


class PublishObserver(Protocol):
    """Where the publisher reports each attempt (the relay's metrics)."""

    def published(self, event_type: str, seconds: float, duplicate: bool) -> None: ...

    def failed(self, kind: str) -> None: ...


class Flow:
    """One `Publisher._flow`'s events in flight, the chains ready for their next event, and
    the failures the publisher has yet to record."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        chains: list[Chain],
        result: BatchResult,
        observer: PublishObserver,
    ) -> None:
        self._loop = loop
        self._acked = result.acked
        self._published = observer.published
        self.ready = chains  # the chains whose next event may go now
        self.in_flight: dict[asyncio.Future[PubAck], tuple[OutboxRow, float, Chain]] = {}
        self.failed: list[tuple[OutboxRow, BaseException]] = []
        self._wake: asyncio.Future[None] = loop.create_future()

    def alone_left(self) -> bool:
        """One aggregate left, with more than one event to go and nothing in flight."""
        return len(self.ready) == 1 and len(self.ready[0]) > 1 and not self.in_flight

    def sent(self, row: OutboxRow, future: "asyncio.Future[PubAck]", chain: Chain) -> None:
        self.in_flight[future] = (row, self._loop.time(), chain)
        future.add_done_callback(self._settled)

    def next_settled(self) -> "asyncio.Future[None]":
        """A future done once the next event in flight settles."""
        self._wake = self._loop.create_future()
        return self._wake

    def expire(self) -> None:
        """Fails what is still unacknowledged (one settled in this loop turn stays as it is)."""
        for future in self.in_flight:
            if not future.done():
                future.set_exception(TimeoutError("no acknowledgement in time"))

    def _settled(self, future: "asyncio.Future[PubAck]") -> None:
        try:
            row, sent_at, chain = self.in_flight.pop(future)
            if future.cancelled():  # nothing of ours cancels one: count it as no answer
                self.failed.append((row, TimeoutError("the publish was cancelled")))
                return
            error = future.exception()
            if error is not None:
                self.failed.append((row, error))
                return
            self._acked.append(row.seq)
            if chain:
                self.ready.append(chain)
            duplicate = bool(future.result().duplicate)
            self._published(row.event_type, self._loop.time() - sent_at, duplicate)
        finally:  # whatever happened, the coroutine looks again (it may wait with no timer)
            if not self._wake.done():
                self._wake.set_result(None)
