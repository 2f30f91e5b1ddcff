"""The idempotent consumer: at-least-once JetStream delivery turned into exactly-once effect.

How it settles each message (inbox, retries, dead letters, tracing) is described in the
README's Events section.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.config.consumer import ConsumerSettings
from usersuite.platform.consumer.dead_letter import DeadLetters
from usersuite.platform.consumer.durable import durable_config
from usersuite.platform.consumer.events import Event, UndecodableEvent, to_event
from usersuite.platform.consumer.metrics import ConsumerMetrics
from usersuite.platform.consumer.outcome import Outcome
from usersuite.platform.db.availability import is_unavailable
from usersuite.platform.db.inbox import SUPPORTED_DIALECTS, purge_inbox, record_delivery
from usersuite.platform.nats.jetstream import ensure_stream
from usersuite.platform.ops.errors import describe

log = logging.getLogger(__name__)
TRACER_NAME = "usersuite.platform.consumer"

Handler = Callable[[Event, AsyncConnection], Awaitable[None]]


class _Exhausted(Exception):
    """Delivered more often than max_deliver: the last attempt did not finish."""


class Consumer:
    def __init__(
        self,
        nats_client: Client,
        engine: AsyncEngine,
        handler: Handler,
        settings: ConsumerSettings,
        *,
        tracer_provider: TracerProvider | None = None,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        if engine.dialect.name not in SUPPORTED_DIALECTS:
            raise ValueError(f"the inbox supports PostgreSQL and SQLite, not {engine.dialect.name}")
        self._js: JetStreamContext = nats_client.jetstream()
        self._dead_letters = DeadLetters(self._js, settings, metrics)
        self._engine = engine
        self._handler = handler
        self._settings = settings
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        """Provisions the dead-letter stream, creates or updates the durable consumer, binds."""
        settings = self._settings
        await ensure_stream(self._js, settings.dead_letter)
        await self._js.add_consumer(settings.stream, durable_config(settings))
        self._subscription = await self._js.pull_subscribe_bind(
            durable=settings.durable, stream=settings.stream
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Consumes until `stopping` is set: the message in hand is finished, then it returns.

        Fetched messages not yet handled are nak'ed so another instance gets them at once.
        Until the event stream exists (no bridge has run yet) it retries starting.
        """
        settings = self._settings
        while self._subscription is None:
            try:
                await self.start()
            except NatsError as exc:
                log.warning("consumer %s cannot start yet: %s", settings.durable, describe(exc))
                if await self._paused(stopping):
                    return
        next_purge = time.monotonic()
        while not stopping.is_set():
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + settings.inbox_purge_interval_seconds
                await self._purge_inbox()
            try:
                batch = await self._subscription.fetch(
                    settings.batch_size, timeout=settings.fetch_timeout_seconds
                )
            except TimeoutError:  # nats-py raises its own and asyncio's: nothing to fetch
                continue
            except NatsError as exc:
                log.warning("consumer %s cannot fetch: %s", settings.durable, describe(exc))
                await self._paused(stopping)
                continue
            for index, msg in enumerate(batch):
                if stopping.is_set():
                    await self._release(batch[index:])
                    break
                try:
                    await self.process(msg)
                except NatsError as exc:  # settling failed: JetStream redelivers the message
                    log.warning("could not settle a message with NATS: %s", describe(exc))

    async def _purge_inbox(self) -> int:
        """Forgets this consumer's inbox rows older than the retention; returns how many."""
        settings = self._settings
        cutoff = datetime.now(UTC) - timedelta(hours=settings.inbox_retention_hours)
        try:
            purged = await purge_inbox(
                self._engine, settings.durable, cutoff, settings.inbox_purge_batch_size
            )
        except Exception as exc:  # tried again next round either way
            if is_unavailable(exc):
                log.warning("consumer %s could not purge its inbox, the database is "
                            "unavailable: %s", settings.durable, describe(exc))  # fmt: skip
            else:  # not an outage: worth its traceback
                log.exception("consumer %s could not purge its inbox", settings.durable)
            return 0
        if purged:
            log.info("consumer %s purged %d old inbox rows", settings.durable, purged)
        return purged

    async def _paused(self, stopping: asyncio.Event) -> bool:
        """Waits a fetch timeout (or less, when stopped); True when stopping."""
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), self._settings.fetch_timeout_seconds)
        return stopping.is_set()

    async def _release(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            try:
                await msg.nak()
            except NatsError as exc:
                log.debug("could not release a message: %s", describe(exc))

    async def process(self, msg: Msg) -> Outcome:
        """Handles one message inside a CONSUMER span that continues the producer's trace."""
        headers = dict(msg.headers or {})
        meta = msg.metadata
        attributes: dict[str, str | int] = {
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": msg.subject,
            "messaging.consumer.group.name": self._settings.durable,
            "messaging.message.id": headers.get("ce-id", ""),
            "usersuite.platform.consumer.deliveries": meta.num_delivered,
            "usersuite.stream.sequence": meta.sequence.stream,
        }
        with self._tracer.start_as_current_span(
            f"process {msg.subject}",
            context=propagate.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            outcome = await self._settle(msg, span)
            span.set_attribute("usersuite.platform.consumer.outcome", outcome.value)
        return outcome

    async def _settle(self, msg: Msg, span: trace.Span) -> Outcome:
        deliveries = msg.metadata.num_delivered
        try:
            event = to_event(msg)
        except (UndecodableEvent, ValueError) as exc:
            span.set_status(Status(StatusCode.ERROR, describe(exc)))
            return await self._dead_letters.send(msg, describe(exc))
        try:
            duplicate = await self._apply(event, msg)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, describe(exc)))
            if deliveries < self._settings.max_deliver:
                delay = self._settings.nak_delay(deliveries)
                log.warning(
                    "consumer %s: event %s failed (delivery %s of %s), retrying in %ss: %s",
                    self._settings.durable, event.event_id, deliveries,
                    self._settings.max_deliver, delay, describe(exc),
                )  # fmt: skip
                await msg.nak(delay=delay)
                return Outcome.RETRY
            return await self._dead_letters.send(msg, describe(exc))
        await msg.ack()
        return Outcome.DUPLICATE if duplicate else Outcome.HANDLED

    async def _apply(self, event: Event, msg: Msg) -> bool:
        """Inbox row and handler in one transaction; True when the event was seen before."""
        async with self._engine.begin() as conn:
            if not await record_delivery(conn, self._settings.durable, event.event_id):
                return True
            if event.deliveries > self._settings.max_deliver:
                raise _Exhausted(
                    f"delivered {event.deliveries} times; the last attempt did not finish"
                )
            async with self._in_progress(msg):
                await self._handler(event, conn)
        return False

    @asynccontextmanager
    async def _in_progress(self, msg: Msg) -> AsyncIterator[None]:
        """Tells JetStream the message is still being worked on while the handler runs long."""

        async def keep_claimed() -> None:
            while True:
                await asyncio.sleep(self._settings.ack_wait_seconds / 2)
                await msg.in_progress()

        pinger = asyncio.create_task(keep_claimed())
        try:
            yield
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)
