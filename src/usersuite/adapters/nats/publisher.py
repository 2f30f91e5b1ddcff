"""Publishes outbox rows to JetStream with CloudEvents headers, one user's rows in order."""

import asyncio
import logging
import time
from collections import defaultdict
from typing import Protocol

from nats.errors import (
    ConnectionClosedError,
    MaxPayloadError,
    NoRespondersError,
    OutboundBufferLimitError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

from usersuite.adapters.nats.messages import headers_for
from usersuite.config.groups import BridgeSettings
from usersuite.ops.errors import describe
from usersuite.service.outbox import BatchResult, Failure, OutboxRow

log = logging.getLogger(__name__)

# Transport trouble: the row is not at fault, so the attempt does not count against it.
TRANSIENT = (
    ConnectionClosedError,
    OutboundBufferLimitError,  # disconnected and the client's pending buffer is full
    NatsTimeoutError,
    TimeoutError,
    NoRespondersError,
    NoStreamResponseError,
    ServiceUnavailableError,
)


class PublishObserver(Protocol):
    """Where the publisher reports each attempt (the relay's metrics)."""

    def published(self, event_type: str, seconds: float, duplicate: bool) -> None: ...

    def failed(self, kind: str) -> None: ...


class Publisher:
    def __init__(
        self, js: JetStreamContext, settings: BridgeSettings, observer: PublishObserver
    ) -> None:
        self._js = js
        self._settings = settings
        self._observer = observer

    async def publish(self, rows: list[OutboxRow], result: BatchResult) -> None:
        by_user: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            by_user[row.aggregate_name].append(row)
        outcomes = await asyncio.gather(
            *(self._publish_in_order(group, result) for group in by_user.values()),
            return_exceptions=True,
        )
        # Every user's publishing has ended before an unexpected error leaves the batch.
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _publish_in_order(self, rows: list[OutboxRow], result: BatchResult) -> None:
        for row in rows:
            started = time.perf_counter()
            try:
                ack = await self._js.publish(
                    row.event_type,  # the event's full protobuf name is its subject
                    row.payload,
                    timeout=self._settings.publish_timeout_seconds,
                    headers=headers_for(row, self._settings.cloudevents_source),
                )
            except TRANSIENT as exc:
                self._observer.failed("transient")
                result.failures.append(Failure(row.seq, describe(exc), counts=False))
                return
            except (APIError, MaxPayloadError) as exc:
                self._observer.failed("rejected")
                log.warning(
                    "JetStream rejected event %s: %s",
                    row.event_id,
                    describe(exc),
                    extra={"event_id": row.event_id, "trace_id": row.trace_id},
                )
                result.failures.append(Failure(row.seq, describe(exc), counts=True))
                return
            log.debug(
                "published %s %s",
                row.event_type,
                row.event_id,
                extra={"event_id": row.event_id, "trace_id": row.trace_id},
            )
            self._observer.published(
                row.event_type, time.perf_counter() - started, bool(ack.duplicate)
            )
            result.acked.append(row.seq)
