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
from collections.abc import Callable
from datetime import datetime

import psycopg
from nats.aio.client import Client
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.adapters.db import outbox_store
from usersuite.adapters.db.coordination import listen_for_outbox, try_lead
from usersuite.adapters.nats.publisher import Publisher
from usersuite.bridge.metrics import RelayMetrics
from usersuite.config.groups import BridgeSettings
from usersuite.ops.errors import describe
from usersuite.service.outbox import BatchResult

log = logging.getLogger(__name__)
DATABASE_ERRORS = (DBAPIError, PoolTimeoutError, psycopg.Error, OSError)
BACKLOG_REFRESH_SECONDS = 2.0
# Retention deletes small batches, each its own short transaction, at most this many a round.
RETENTION_BATCHES_PER_ROUND = 10


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
            for _ in range(RETENTION_BATCHES_PER_ROUND):
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
        listener = asyncio.create_task(
            listen_for_outbox(self._engine, self._wake.set, self._settings.poll_interval_seconds),
            name="outbox-listen",
        )
        backoff = self._settings.backoff_initial_seconds
        try:
            while not stopping.is_set():
                try:
                    async with self._engine.connect() as conn:
                        self._database_ok = True
                        if not await try_lead(conn, self._settings.leader_lock_key):
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
