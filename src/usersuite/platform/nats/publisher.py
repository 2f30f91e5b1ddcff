"""Pipelined JetStream publishing that keeps each aggregate's order, also when a publish fails.

Publishes go out with `publish_async`, many acknowledgements in flight at once (bounded by
`max_in_flight`), but never two of the same aggregate: an aggregate's next event is sent only
after the previous one was acknowledged. So when a publish fails in the middle of a pipeline (a
rejection, a lost connection whose buffered messages are flushed after the reconnect, a stream
leader that changed between two messages), nothing of that aggregate behind it has been sent,
and the stream can never hold event n+1 without event n. Many aggregates share the pipeline.

One aggregate alone (a hot user, or the tail of a batch) would pay a round trip per event, so
its events go out together, each with `Nats-Expected-Last-Msg-Id` = the event before it:
JetStream stores event n+1 only right after event n, and refuses it otherwise (whatever failed
in between: a lost connection, a new stream leader, another publisher's message). A refused
event is no failure; it goes out again once its predecessor is acknowledged.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from nats.errors import (
    ConnectionClosedError,
    MaxPayloadError,
    NoRespondersError,
    OutboundBufferLimitError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import PubAck
from nats.js.errors import (
    APIError,
    NoStreamResponseError,
    ServiceUnavailableError,
    TooManyStalledMsgsError,
)

from usersuite.platform.nats.flow import Chain, Flow, PublishObserver
from usersuite.platform.nats.messages import event_headers
from usersuite.platform.nats.pipeline_context import PipelineContext
from usersuite.platform.ops.errors import describe
from usersuite.platform.service.outbox import BatchResult, Failure, OutboxRow

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
EXPECTED = TRANSIENT + REJECTED
# JetStream's answer to an event whose Nats-Expected-Last-Msg-Id was not the stream's last.
WRONG_LAST_MSG_ID = 10070
# The most events of one aggregate in flight together; a window doubles up to it while every
# event is stored, and falls back to one after a refusal.
STRETCH_MAX = 256


class Publisher:
    def __init__(
        self, js: PipelineContext, source: str, timeout_seconds: float, observer: PublishObserver
    ) -> None:
        self._js = js
        self._source = source
        self._timeout = timeout_seconds
        self._observer = observer
        self._stretch = 1

    async def publish(self, rows: Sequence[OutboxRow], result: BatchResult) -> None:
        """Publishes `rows` (in commit order); each aggregate's stop at its first failure.

        Every aggregate's next event is in flight at once, and each aggregate's next one goes
        out as soon as the one before it is acknowledged (`_flow`); one aggregate left alone
        goes out in guarded windows (`_alone`). No task per aggregate and one timer per wait:
        the per-event cost is what bounds a relay on one core. Each event's headers are encoded
        once, also when it goes out again after a refused guard.
        """
        chains: dict[str, Chain] = {}
        source = self._source
        for row in rows:
            event = (row, event_headers(row, source))
            chain = chains.get(row.aggregate_name)
            if chain is None:
                chains[row.aggregate_name] = [event]
            else:
                chain.append(event)
        going = [chain[::-1] for chain in chains.values()]  # the next event is at the end
        while going:
            if len(going) == 1 and len(going[0]) > 1:
                going = await self._alone(going[0], result)
            else:
                going = await self._flow(going, result)

    async def _flow(self, chains: list[Chain], result: BatchResult) -> list[Chain]:
        """Sends the next event of each chain, and a chain's next one as soon as the one before
        it is acknowledged; returns the chains that go on elsewhere: one aggregate left with
        more than one event and nothing else in flight (for `_alone`), or, after a publish
        timed out, what was still to send.

        A chain's next event never waits for other aggregates' acknowledgements: in rounds
        (each aggregate's next event, then all their acknowledgements), the pipeline drained at
        the end of every round, and a bridge relayed 100 users' events about 8% slower
        (bench/results/issue-18). The acknowledgements are read in callbacks
        (platform/nats/flow.py); the sends stay in this coroutine, so none goes out after it
        returned. An event still unacknowledged once none came for the publish timeout fails.
        """
        flow = Flow(asyncio.get_running_loop(), chains, result, self._observer)
        unexpected: Exception | None = None
        timed_out = False
        while True:
            unexpected = unexpected or self._report(flow.failed, result)
            if not (timed_out or unexpected):
                if flow.alone_left():
                    break
                try:
                    await self._send_ready(flow, result)
                except Exception as exc:  # raised once what is in flight has settled
                    unexpected = exc
                unexpected = unexpected or self._report(flow.failed, result)
            if not flow.in_flight:
                break
            if flow.ready and not (timed_out or unexpected):
                continue
            if timed_out:  # every future in flight is settled: their callbacks run next
                await flow.next_settled()
                continue
            try:
                async with asyncio.timeout(self._timeout):
                    await flow.next_settled()
            except TimeoutError:
                timed_out = True
                flow.expire()
        if unexpected is not None:
            raise unexpected
        return flow.ready

    async def _send_ready(self, flow: Flow, result: BatchResult) -> None:
        """Sends the next event of each ready chain; what is not ours to judge is raised, the
        chains not reached yet stay ready."""
        publish_async = self._js.publish_async
        sends, flow.ready = flow.ready, []
        for i, chain in enumerate(sends):
            row, headers = chain.pop()
            try:
                # The event's full protobuf name is its subject.
                future = await publish_async(row.event_type, row.payload, headers=headers)
            except EXPECTED as exc:
                self._failed(row, exc, result)
                continue
            except Exception:
                flow.ready += sends[i + 1 :]
                raise
            flow.sent(row, future, chain)

    def _report(
        self, failed: list[tuple[OutboxRow, BaseException]], result: BatchResult
    ) -> Exception | None:
        """Records `failed`; returns the first error that is not the publisher's to judge, for
        `_flow` to raise once what is in flight has settled."""
        first: Exception | None = None
        failures, failed[:] = list(failed), []
        for row, error in failures:
            try:
                self._failed(row, error, result)
            except Exception as exc:
                first = first or exc
        return first

    async def _alone(self, chain: Chain, result: BatchResult) -> list[Chain]:
        """Sends the next events of one aggregate together, each guarded by the one before."""
        loop = asyncio.get_running_loop()
        window = chain[: -self._stretch - 1 : -1]
        sent: list[tuple[OutboxRow, asyncio.Future[PubAck], float]] = []
        previous: str | None = None
        for row, headers in window:
            guarded = headers if previous is None else headers.guarded(previous)
            try:
                future = await self._js.publish_async(row.event_type, row.payload, headers=guarded)
            except EXPECTED as exc:
                if not sent:
                    self._failed(row, exc, result)
                    return []
                break  # what was sent is settled first; this row goes out again
            sent.append((row, future, loop.time()))
            previous = row.event_id
        acked_at = await self._settle([future for _, future, _ in sent])
        for row, future, sent_at in sent:
            error = future.exception()
            if isinstance(error, APIError) and error.err_code == WRONG_LAST_MSG_ID:
                self._stretch = 1
                return [chain]
            if error is not None:
                self._failed(row, error, result)
                return []
            duplicate = bool(future.result().duplicate)
            self._observer.published(row.event_type, acked_at[future] - sent_at, duplicate)
            result.acked.append(row.seq)
            chain.pop()
        self._stretch = min(self._stretch * 2, STRETCH_MAX)
        return [chain] if chain else []

    async def _settle(
        self, futures: "list[asyncio.Future[PubAck]]"
    ) -> "dict[asyncio.Future[PubAck], float]":
        """Waits for the acknowledgements; one missing after the publish timeout fails.
        Returns when each future settled (the loop's clock).

        Every outcome is read here: the caller stops at a user's first failure (a refused
        guard refuses the events behind it too), and a failure nobody read is reported by
        asyncio as "Future exception was never retrieved", once per event. One callback a
        future counts them down: `asyncio.wait` adds and removes a callback on every future and
        a stamp of the time another, twice the relay's cost of reading an acknowledgement.
        """
        settled_at: dict[asyncio.Future[PubAck], float] = {}
        if not futures:
            return settled_at
        loop = asyncio.get_running_loop()
        all_settled = loop.create_future()

        def one_settled(future: "asyncio.Future[PubAck]") -> None:
            settled_at[future] = loop.time()
            if len(settled_at) == len(futures) and not all_settled.done():
                all_settled.set_result(None)

        for future in futures:
            future.add_done_callback(one_settled)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout):
                await all_settled
        for future in futures:
            if not future.done():
                future.set_exception(TimeoutError("no acknowledgement in time"))
            # A future settled in the loop turn the timeout fired in has not counted itself yet.
            settled_at.setdefault(future, loop.time())
            future.exception()
        return settled_at

    def _failed(self, row: OutboxRow, exc: BaseException, result: BatchResult) -> None:
        """Records the failure of `row`; an error that is neither transient nor a rejection
        is not the publisher's to judge and goes up."""
        if isinstance(exc, TRANSIENT):
            self._observer.failed("transient")
            result.failures.append(Failure(row.seq, describe(exc), counts=False))
        elif isinstance(exc, REJECTED):
            self._observer.failed("rejected")
            log.warning(
                "JetStream rejected event %s: %s", row.event_id, describe(exc),
                extra={"event_id": row.event_id, "trace_id": row.trace_id},
            )  # fmt: skip
            result.failures.append(Failure(row.seq, describe(exc), counts=True))
        else:
            raise exc
