"""The relay: outbox rows -> JetStream, marked dispatched only after JetStream acknowledged them.

Order and completeness:
- Rows are claimed by state (pending), never by "id greater than the last seen", so a
  transaction that took an earlier sequence value but committed later is still relayed.
- One bridge relays at a time: on PostgreSQL the relaying connection holds an advisory lock
  and other replicas stand by until it is released (crash or shutdown). One user's events are
  inserted in commit order (their transactions lock the user's row), so relaying pending rows
  in sequence order keeps every user's order.
- Within a batch, users are published concurrently, one user's events one after another; the
  first failure of a user stops that user's remaining events until the next round. A row that
  is rejected max_attempts times is parked, and holds back its user's later events until
  `usersuite outbox retry` re-queues it: other users keep flowing, no user is reordered.
- Publishes carry Nats-Msg-Id = event id, so a row published again after a crash between the
  acknowledgement and the mark is dropped by JetStream as a duplicate.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from nats.aio.client import Client
from nats.errors import (
    ConnectionClosedError,
    MaxPayloadError,
    NoRespondersError,
    OutboundBufferLimitError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.adapters.db import outbox_store
from usersuite.adapters.db.outbox_store import Failure, OutboxRow
from usersuite.adapters.nats.messages import headers_for, subject_for
from usersuite.bridge.metrics import RelayMetrics
from usersuite.config import BridgeSettings

log = logging.getLogger(__name__)
TRANSIENT = (
    ConnectionClosedError,
    OutboundBufferLimitError,  # disconnected and the client's pending buffer is full
    NatsTimeoutError,
    TimeoutError,
    NoRespondersError,
    NoStreamResponseError,
    ServiceUnavailableError,
)
DATABASE_ERRORS = (DBAPIError, PoolTimeoutError, psycopg.Error, OSError)
BACKLOG_REFRESH_SECONDS = 2.0


@dataclass
class BatchResult:
    claimed: int = 0
    acked: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def transient_failure(self) -> bool:
        return any(not failure.counts for failure in self.failures)


def trace_id_of(row: OutboxRow) -> str:
    """The trace id of the call that produced the event (from its W3C traceparent)."""
    parts = row.trace_context.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else ""


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Publisher:
    """Publishes rows with CloudEvents headers; one user's rows strictly in order."""

    def __init__(
        self, js: JetStreamContext, settings: BridgeSettings, metrics: RelayMetrics
    ) -> None:
        self._js = js
        self._settings = settings
        self._metrics = metrics

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
                    subject_for(row.event_type),
                    row.payload,
                    timeout=self._settings.publish_timeout_seconds,
                    headers=headers_for(row, self._settings.cloudevents_source),
                )
            except TRANSIENT as exc:
                self._metrics.failures.labels("transient").inc()
                result.failures.append(Failure(row.seq, describe(exc), counts=False))
                return
            except (APIError, MaxPayloadError) as exc:
                self._metrics.failures.labels("rejected").inc()
                log.warning(
                    "JetStream rejected event %s: %s",
                    row.event_id,
                    describe(exc),
                    extra={"event_id": row.event_id, "trace_id": trace_id_of(row)},
                )
                result.failures.append(Failure(row.seq, describe(exc), counts=True))
                return
            log.debug(
                "published %s %s",
                row.event_type,
                row.event_id,
                extra={"event_id": row.event_id, "trace_id": trace_id_of(row)},
            )
            self._metrics.publish_seconds.observe(time.perf_counter() - started)
            self._metrics.published.labels(row.event_type).inc()
            if ack.duplicate:
                self._metrics.duplicates.inc()
            result.acked.append(row.seq)


class Relay:
    def __init__(
        self,
        engine: AsyncEngine,
        nats_client: Client,
        settings: BridgeSettings,
        metrics: RelayMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._nc = nats_client
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._publisher = Publisher(nats_client.jetstream(), settings, metrics)
        self._wake = asyncio.Event()
        self._database_ok = False
        self._last_backlog = 0.0
        self._last_retention = 0.0

    @property
    def ready(self) -> bool:
        """Both PostgreSQL (or SQLite) and NATS are reachable."""
        return self._database_ok and self._nc.is_connected

    @property
    def _postgres(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def relay_batch(self, conn: AsyncConnection) -> BatchResult:
        """Claims, publishes and records one batch in one transaction."""
        result = BatchResult()
        async with conn.begin():
            rows = await outbox_store.claim_pending(conn, self._settings.batch_size)
            result.claimed = len(rows)
            if not rows:
                return result
            await self._publisher.publish(rows, result)
            await outbox_store.mark_dispatched(conn, result.acked, self._clock())
            parked = await outbox_store.record_failures(
                conn, result.failures, self._settings.max_attempts
            )
        for seq in parked:
            log.error("outbox row %s parked after %s attempts", seq, self._settings.max_attempts)
        return result

    async def _acquire_leadership(self, conn: AsyncConnection) -> bool:
        if not self._postgres:
            return True  # SQLite is for one process on a laptop
        key = self._settings.leader_lock_key
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        await conn.commit()
        return bool(got)

    async def _maintain(self, conn: AsyncConnection) -> None:
        now = time.monotonic()
        if now - self._last_backlog >= BACKLOG_REFRESH_SECONDS:
            self._last_backlog = now
            async with conn.begin():
                backlog = await outbox_store.backlog(conn)
            self._metrics.backlog.set(backlog.pending)
            self._metrics.parked.set(backlog.parked)
            age = 0.0
            if backlog.oldest_pending is not None:
                age = max(0.0, (self._clock() - backlog.oldest_pending).total_seconds())
            self._metrics.oldest_pending_age.set(age)
        if now - self._last_retention >= self._settings.retention_interval_seconds:
            self._last_retention = now
            cutoff = outbox_store.retention_cutoff(self._clock(), self._settings.retention_hours)
            # Small batches, each its own short transaction, at most a few per round.
            for _ in range(10):
                async with conn.begin():
                    deleted = await outbox_store.purge_dispatched(
                        conn, cutoff, self._settings.retention_batch_size
                    )
                if deleted < self._settings.retention_batch_size:
                    break

    async def _wait(self, stopping: asyncio.Event, seconds: float) -> None:
        """Until woken by NOTIFY, stopped, or `seconds` pass."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    async def _lead(self, conn: AsyncConnection, stopping: asyncio.Event) -> None:
        backoff = self._settings.backoff_initial_seconds
        while not stopping.is_set():
            if not self._nc.is_connected:
                # Claiming now would only hold row locks and fill the client's buffer.
                await self._wait(stopping, backoff)
                backoff = min(backoff * 2, self._settings.backoff_max_seconds)
                continue
            result = await self.relay_batch(conn)
            self._database_ok = True
            await self._maintain(conn)
            if result.transient_failure:
                log.warning("NATS unavailable; retrying in %.1fs", backoff)
                await self._wait(stopping, backoff)
                backoff = min(backoff * 2, self._settings.backoff_max_seconds)
                continue
            backoff = self._settings.backoff_initial_seconds
            if result.claimed < self._settings.batch_size:
                await self._wait(stopping, self._settings.poll_interval_seconds)

    async def run(self, stopping: asyncio.Event) -> None:
        """Relays until `stopping` is set; the batch in flight is finished first."""
        listener = asyncio.create_task(self._listen(stopping), name="outbox-listen")
        backoff = self._settings.backoff_initial_seconds
        try:
            while not stopping.is_set():
                try:
                    async with self._engine.connect() as conn:
                        self._database_ok = True
                        if not await self._acquire_leadership(conn):
                            self._metrics.leader.set(0)
                            await self._wait(stopping, self._settings.poll_interval_seconds)
                            continue
                        log.info("this bridge is relaying (leader)")
                        self._metrics.leader.set(1)
                        backoff = self._settings.backoff_initial_seconds
                        await self._lead(conn, stopping)
                except DATABASE_ERRORS as exc:
                    self._database_ok = False
                    log.warning("database unavailable for the relay: %s", describe(exc))
                else:
                    continue
                self._metrics.leader.set(0)
                await self._wait(stopping, backoff)
                backoff = min(backoff * 2, self._settings.backoff_max_seconds)
        finally:
            self._metrics.leader.set(0)
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _listen(self, stopping: asyncio.Event) -> None:
        """PostgreSQL LISTEN as a wake-up hint; polling covers whatever it misses."""
        if not self._postgres:
            return
        url = make_url(self._engine.url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {outbox_store.NOTIFY_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except (psycopg.Error, OSError) as exc:
                log.debug("LISTEN connection lost: %s", describe(exc))
                await asyncio.sleep(self._settings.poll_interval_seconds)
