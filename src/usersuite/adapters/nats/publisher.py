"""Pipelined JetStream publishing that keeps each aggregate's order, also when a publish fails.

Publishes go out with `publish_async`, many acknowledgements in flight at once (bounded by
`max_in_flight`), but never two of the same aggregate: an aggregate's next event is sent only
after the previous one was acknowledged. So when a publish fails in the middle of a pipeline (a
rejection, a lost connection whose buffered messages are flushed after the reconnect, a stream
leader that changed between two messages), nothing of that aggregate behind it has been sent,
and the stream can never hold event n+1 without event n. The price is one round trip per event
for one hot aggregate; many aggregates share the pipeline.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg
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

from usersuite.adapters.nats.messages import headers_for
from usersuite.ops.errors import describe
from usersuite.service.outbox import BatchResult, Failure, OutboxRow

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


class PublishObserver(Protocol):
    """Where the publisher reports each attempt (the relay's metrics)."""

    def published(self, event_type: str, seconds: float, duplicate: bool) -> None: ...

    def failed(self, kind: str) -> None: ...


class PipelineContext(JetStreamContext):
    """A JetStream context whose `publish_async` futures also learn of rejections.

    nats-py 2.16's reply handler calls `APIError.from_error`, which raises rather than returns,
    so a rejection escapes to the error callback and its future only ever times out: a message
    JetStream refuses would look like NATS being down and never be parked.
    """

    async def _handle_async_reply(self, msg: Msg) -> None:
        try:
            await super()._handle_async_reply(msg)
        except APIError as exc:
            # The reply subject ends with the token the future is filed under.
            future = self._publish_async_futures.get(msg.subject.rsplit(".", 1)[1])
            if future is not None and not future.done():
                future.set_exception(exc)


def pipeline_context(nc: Client, max_in_flight: int) -> JetStreamContext:
    return PipelineContext(nc, publish_async_max_pending=max_in_flight)


def _expire(future: "asyncio.Future[PubAck]") -> None:
    if not future.done():
        future.set_exception(TimeoutError("no acknowledgement in time"))


class Publisher:
    def __init__(
        self, js: JetStreamContext, source: str, timeout_seconds: float, observer: PublishObserver
    ) -> None:
        self._js = js
        self._source = source
        self._timeout = timeout_seconds
        self._observer = observer

    async def publish(self, rows: Sequence[OutboxRow], result: BatchResult) -> None:
        """Publishes `rows` (in commit order); each aggregate's stop at its first failure."""
        chains: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            chains[row.aggregate_name].append(row)
        outcomes = await asyncio.gather(
            *(self._chain(chain, result) for chain in chains.values()), return_exceptions=True
        )
        # Every chain has ended before an unexpected error leaves the pipeline.
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _chain(self, rows: list[OutboxRow], result: BatchResult) -> None:
        loop = asyncio.get_running_loop()
        for row in rows:
            timer: asyncio.TimerHandle | None = None
            try:
                future = await self._js.publish_async(
                    row.event_type,  # the event's full protobuf name is its subject
                    row.payload,
                    headers=headers_for(row, self._source),
                )
                sent = loop.time()
                timer = loop.call_later(self._timeout, _expire, future)
                ack = await future
            except TRANSIENT as exc:
                self._observer.failed("transient")
                result.failures.append(Failure(row.seq, describe(exc), counts=False))
                return
            except REJECTED as exc:
                self._observer.failed("rejected")
                log.warning(
                    "JetStream rejected event %s: %s", row.event_id, describe(exc),
                    extra={"event_id": row.event_id, "trace_id": row.trace_id},
                )  # fmt: skip
                result.failures.append(Failure(row.seq, describe(exc), counts=True))
                return
            finally:
                if timer is not None:
                    timer.cancel()
            self._observer.published(row.event_type, loop.time() - sent, bool(ack.duplicate))
            result.acked.append(row.seq)
