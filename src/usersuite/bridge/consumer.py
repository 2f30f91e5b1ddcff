"""The idempotent consumer: at-least-once JetStream delivery turned into exactly-once effect.

Downstream Python services build a `Consumer` with their own engine and an async handler:

    await create_inbox(engine)
    consumer = Consumer(nc, engine, handler, ConsumerSettings(durable="billing"))
    await consumer.run(stopping)

Each message is handled in one database transaction that first records (consumer, event id)
in the inbox table and then runs the handler on the same connection, so the handler's writes
and the inbox row commit together; the message is acknowledged after the commit. A message
seen again (a redelivery after a lost ack, a republish, a replay) finds its inbox row and is
acknowledged without calling the handler.

A failed handler rolls back and the message is nak'ed with a delay from `backoff_seconds`
(a nak without a delay would burn `max_deliver` in milliseconds). The delivery that reaches
`max_deliver` and fails goes to the dead-letter stream (JetStream has none of its own) with
the reason in headers, and is then terminated. The durable consumer allows one spare delivery
beyond `max_deliver`: a message whose last attempt could not be dead-lettered (NATS trouble,
a crash) comes back once more and is dead-lettered without calling the handler again.
An unavailable database fails a delivery like a handler error does: choose `max_deliver` and
`backoff_seconds` to outlast the outages you expect (dead letters can be republished).

The handler writes through the connection it is given and never commits it. Each message is
handled inside an OpenTelemetry CONSUMER span whose parent is the producer's `traceparent`
header, so the handler's own spans join the trace of the call that caused the event.

Messages are handled one at a time in delivery order; a failing event does not hold back the
ones behind it, so handlers that care about one user's order compare `aggregate_version`.
Versions start again at 1 when a deleted user's id is used for a new user: a UserCreated
begins a new life of the aggregate, so compare versions only after the latest UserCreated.
"""

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.adapters.nats.jetstream import ensure_stream
from usersuite.adapters.nats.messages import SUBJECT_PREFIX
from usersuite.bridge.events import Event, UndecodableEvent, to_event
from usersuite.bridge.relay import describe
from usersuite.config import StreamSettings

log = logging.getLogger(__name__)

INBOX_TABLE = "usersuite_inbox"
inbox_metadata = MetaData()
inbox = Table(
    INBOX_TABLE,
    inbox_metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("received_time", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Headers a dead-lettered message carries besides its original ones.
DLQ_REASON = "usersuite-dlq-reason"
DLQ_CONSUMER = "usersuite-dlq-consumer"
DLQ_DELIVERIES = "usersuite-dlq-deliveries"
DLQ_STREAM = "usersuite-dlq-stream"
DLQ_STREAM_SEQ = "usersuite-dlq-stream-seq"
DLQ_SUBJECT = "usersuite-dlq-subject"
DLQ_TIME = "usersuite-dlq-time"
MAX_REASON_LENGTH = 1000

TRACER_NAME = "usersuite.bridge.consumer"


async def create_inbox(engine: AsyncEngine) -> None:
    """Creates the inbox table when it is missing (`inbox_metadata.create_all`).

    The downstream service owns its database; one that manages its schema with Alembic adds
    `inbox_metadata` to its target metadata instead and lets its migrations create the table.
    """
    async with engine.begin() as conn:
        await conn.run_sync(inbox_metadata.create_all)


Handler = Callable[[Event, AsyncConnection], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSettings:
    """A durable pull consumer on the event stream, with its retry and dead-letter policy.

    `backoff_seconds` is the nak delay after the 1st, 2nd, ... failed delivery (the last value
    repeats). It is not given to the server as the consumer's `backoff`, because the server
    then replaces `ack_wait` by its first value; `ack_wait_seconds` is how long a delivery may
    go unacknowledged (a crashed consumer) before JetStream redelivers it, and long handlers
    keep their message with in-progress acks.
    """

    durable: str
    stream: str = "USER_V1"
    filter_subject: str = f"{SUBJECT_PREFIX}>"
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    backoff_seconds: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    batch_size: int = 10
    fetch_timeout_seconds: float = 1.0
    publish_timeout_seconds: float = 5.0
    dead_letter: StreamSettings = field(
        default_factory=lambda: StreamSettings(
            name="USER_V1_DLQ",
            subjects=(f"dlq.{SUBJECT_PREFIX}>",),
            max_age_seconds=30 * 24 * 3600.0,
        )
    )
    dead_letter_prefix: str = "dlq."

    def __post_init__(self) -> None:
        if self.max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        if not self.backoff_seconds or min(self.backoff_seconds) <= 0:
            raise ValueError("backoff_seconds needs at least one positive delay")
        if self.ack_wait_seconds <= 0 or self.fetch_timeout_seconds <= 0:
            raise ValueError("ack_wait_seconds and fetch_timeout_seconds must be positive")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    def nak_delay(self, deliveries: int) -> float:
        """The delay before the next delivery after delivery number `deliveries` failed."""
        return self.backoff_seconds[min(deliveries, len(self.backoff_seconds)) - 1]

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_seconds,
            max_deliver=self.max_deliver + 1,  # the spare delivery, see the module docstring
            filter_subject=self.filter_subject,
        )


class Outcome(enum.StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTERED = "dead_lettered"


class _Exhausted(Exception):
    """Delivered more often than max_deliver: the last attempt did not finish."""


def _header_value(text: str) -> str:
    """One line (headers cannot hold CR/LF), at most MAX_REASON_LENGTH characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON_LENGTH else flat[: MAX_REASON_LENGTH - 3] + "..."


class Consumer:
    def __init__(
        self,
        nats_client: Client,
        engine: AsyncEngine,
        handler: Handler,
        settings: ConsumerSettings,
        *,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError(f"the inbox supports PostgreSQL and SQLite, not {engine.dialect.name}")
        self._js: JetStreamContext = nats_client.jetstream()
        self._engine = engine
        self._handler = handler
        self._settings = settings
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        """Provisions the dead-letter stream, creates or updates the durable consumer, binds."""
        settings = self._settings
        await ensure_stream(self._js, settings.dead_letter)
        await self._js.add_consumer(settings.stream, settings.consumer_config())
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
        while not stopping.is_set():
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
            "usersuite.consumer.deliveries": meta.num_delivered,
            "usersuite.stream.sequence": meta.sequence.stream,
        }
        with self._tracer.start_as_current_span(
            f"process {msg.subject}",
            context=propagate.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
        ) as span:
            outcome = await self._settle(msg, span)
            span.set_attribute("usersuite.consumer.outcome", outcome.value)
        return outcome

    async def _settle(self, msg: Msg, span: trace.Span) -> Outcome:
        deliveries = msg.metadata.num_delivered
        try:
            event = to_event(msg)
        except (UndecodableEvent, ValueError) as exc:
            span.set_status(Status(StatusCode.ERROR, describe(exc)))
            return await self._dead_letter(msg, describe(exc))
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
            return await self._dead_letter(msg, describe(exc))
        await msg.ack()
        return Outcome.DUPLICATE if duplicate else Outcome.HANDLED

    async def _apply(self, event: Event, msg: Msg) -> bool:
        """Inbox row and handler in one transaction; True when the event was seen before."""
        async with self._engine.begin() as conn:
            if not await self._record(conn, event.event_id):
                return True
            if event.deliveries > self._settings.max_deliver:
                raise _Exhausted(
                    f"delivered {event.deliveries} times; the last attempt did not finish"
                )
            async with self._in_progress(msg):
                await self._handler(event, conn)
        return False

    async def _record(self, conn: AsyncConnection, event_id: str) -> bool:
        """Inserts the inbox row; False when it is there already.

        On PostgreSQL a concurrent insert of the same row waits for the other transaction: it
        then finds the row (committed) or inserts it (rolled back), never both.
        """
        values = {"consumer": self._settings.durable, "event_id": event_id}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(inbox).values(values).on_conflict_do_nothing()
        inserted = await conn.execute(statement.returning(inbox.c.event_id))
        return inserted.first() is not None

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

    async def _dead_letter(self, msg: Msg, reason: str) -> Outcome:
        """Republishes to the dead-letter stream with the failure in headers, then terminates."""
        meta = msg.metadata
        original = dict(msg.headers or {})
        headers = {
            **original,
            # One dead letter per consumer and stream message, even if this is retried.
            "Nats-Msg-Id": f"{self._settings.durable}:{meta.stream}:{meta.sequence.stream}",
            DLQ_REASON: _header_value(reason),
            DLQ_CONSUMER: self._settings.durable,
            DLQ_DELIVERIES: str(meta.num_delivered),
            DLQ_STREAM: meta.stream,
            DLQ_STREAM_SEQ: str(meta.sequence.stream),
            DLQ_SUBJECT: msg.subject,
            DLQ_TIME: datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        try:
            await self._js.publish(
                self._settings.dead_letter_prefix + msg.subject,
                msg.data,
                timeout=self._settings.publish_timeout_seconds,
                stream=self._settings.dead_letter.name,
                headers=headers,
            )
        except NatsError as exc:
            log.error(
                "consumer %s: could not dead-letter stream message %s: %s",
                self._settings.durable, meta.sequence.stream, describe(exc),
            )  # fmt: skip
            await msg.nak(delay=self._settings.nak_delay(meta.num_delivered))
            return Outcome.RETRY
        log.error(
            "consumer %s: stream message %s dead-lettered after %s deliveries: %s",
            self._settings.durable, meta.sequence.stream, meta.num_delivered, reason,
        )  # fmt: skip
        await msg.term()
        return Outcome.DEAD_LETTERED
