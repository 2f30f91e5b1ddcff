"""Pipelined JetStream publishing that keeps each aggregate's order, also when a publish fails.

Publishes go out with `publish_async`, many acknowledgements in flight at once (bounded by the
JetStream context's `publish_async_max_pending`), but never two of the same aggregate: an
aggregate's next event is sent only after the previous one was acknowledged. So when a publish
fails in the middle of a pipeline (a rejection, a lost connection whose buffered messages are
flushed after the reconnect, a stream leader that changed between two messages), nothing of
that aggregate behind it has been sent, and the stream can never hold event n+1 without event n.
The price is one round trip per event for one hot aggregate; many aggregates share the pipeline.
"""

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nats.errors import (
    ConnectionClosedError,
    MaxPayloadError,
    NoRespondersError,
    OutboundBufferLimitError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import (
    APIError,
    NoStreamResponseError,
    ServiceUnavailableError,
    TooManyStalledMsgsError,
)

from usersuite.adapters.db.outbox_store import Failure, OutboxRow
from usersuite.adapters.nats.messages import headers_for

log = logging.getLogger(__name__)

# NATS or the stream cannot take messages now; the event is not at fault.
TRANSIENT = (
    ConnectionClosedError,
    OutboundBufferLimitError,  # disconnected and the client's pending buffer is full
    NatsTimeoutError,
    TimeoutError,
    NoRespondersError,
    NoStreamResponseError,
    ServiceUnavailableError,  # e.g. no stream leader while a cluster elects one
    TooManyStalledMsgsError,
)
# JetStream (or the client) refuses this very message: it counts towards parking it.
REJECTED = (APIError, MaxPayloadError)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass
class Published:
    """What one pipeline run achieved: acknowledged rows (in order per aggregate) and failures."""

    acked: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    duplicates: int = 0
    by_type: Counter[str] = field(default_factory=Counter)

    @property
    def transient_failure(self) -> bool:
        return any(not failure.counts for failure in self.failures)


def _expire(future: "asyncio.Future[PubAck]") -> None:
    if not future.done():
        future.set_exception(TimeoutError("no acknowledgement in time"))


class PipelinedPublisher:
    def __init__(
        self,
        js: JetStreamContext,
        source: str,
        timeout_seconds: float,
        on_rejected: Callable[[OutboxRow, str], None] | None = None,
    ) -> None:
        self._js = js
        self._source = source
        self._timeout = timeout_seconds
        self._on_rejected = on_rejected

    async def publish(self, rows: Sequence[OutboxRow]) -> Published:
        """Publishes `rows` (in commit order); each aggregate's stop at its first failure."""
        chains: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            chains[row.aggregate_name].append(row)
        result = Published()
        outcomes = await asyncio.gather(
            *(self._chain(chain, result) for chain in chains.values()), return_exceptions=True
        )
        # Every chain has ended before an unexpected error leaves the pipeline.
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return result

    async def _chain(self, rows: list[OutboxRow], result: Published) -> None:
        loop = asyncio.get_running_loop()
        for row in rows:
            timer: asyncio.TimerHandle | None = None
            try:
                future = await self._js.publish_async(
                    row.event_type, row.payload, headers=headers_for(row, self._source)
                )
                timer = loop.call_later(self._timeout, _expire, future)
                ack = await future
            except TRANSIENT as exc:
                result.failures.append(Failure(row.seq, describe(exc), counts=False))
                return
            except REJECTED as exc:
                if self._on_rejected is not None:
                    self._on_rejected(row, describe(exc))
                result.failures.append(Failure(row.seq, describe(exc), counts=True))
                return
            finally:
                if timer is not None:
                    timer.cancel()
            result.acked.append(row.seq)
            result.by_type[row.event_type] += 1
            if ack.duplicate:
                result.duplicates += 1
