"""The relay: outbox rows -> JetStream, marked dispatched only after JetStream acknowledged them.

Order and completeness:
- Rows are claimed by state (pending), never by "id greater than the last seen", so a
  transaction that took an earlier sequence value but committed later is still relayed.
- The outbox is split into partitions by a stable hash of the aggregate. On PostgreSQL a bridge
  relays a partition only while its session holds the partition's advisory lock, and claims on
  that same session, so bridges relay side by side and one user's events always go through one
  bridge at a time; live bridges share the partitions and take over those of a lost one.
- Within a batch, events are pipelined (many acknowledgements in flight), but one user's next
  event goes out only after the previous one was acknowledged, and a user's first failure
  stops that user until the next round. A row rejected max_attempts times is parked and holds
  back its user's later events until `usersuite outbox retry`; no user is reordered.
- A bridge cut off from NATS for leader_handover_seconds gives its partitions back (and does
  not take any until NATS answers again), so bridges that can reach NATS relay them. It first
  drops its connection with whatever it had not delivered, so no event it sent while it held
  the partitions can reach the stream after another bridge relayed them.
- Publishes carry Nats-Msg-Id = event id, so a row published again after a crash between the
  acknowledgement and the mark (or by the next holder of its partition) is dropped by
  JetStream as a duplicate within the stream's duplicate window.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from nats.aio.client import Client
from nats.errors import Error as NatsError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.config.groups import BridgeSettings
from usersuite.platform.db import outbox_store
from usersuite.platform.db.availability import DATABASE_ERRORS
from usersuite.platform.db.coordination import is_postgres, listen_for_outbox
from usersuite.platform.db.partitions import PartitionLocks
from usersuite.platform.nats.jetstream import sever
from usersuite.platform.nats.pipeline_context import PipelineContext
from usersuite.platform.nats.publisher import Publisher
from usersuite.platform.ops.errors import describe
from usersuite.platform.relay.halves import HalvesInFlight
from usersuite.platform.relay.liveness import Liveness
from usersuite.platform.relay.maintenance import Maintenance
from usersuite.platform.relay.metrics import RelayMetrics
from usersuite.platform.relay.ownership import Ownership
from usersuite.platform.service.outbox import BatchResult, OutboxRow

log = logging.getLogger(__name__)


# Batches one transaction relays back to back before the loop looks at its partitions, NATS
# and the backlog again. Eight relayed no faster than two (measured in process, 30,000 rows).
BATCHES_PER_TRANSACTION = 2


async def _outcome(claiming: "asyncio.Future[list[OutboxRow]] | None") -> list[OutboxRow]:
    """The rows of a claim running beside a publish, once it is done (none: no claim)."""
    return [] if claiming is None else await claiming


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
        self._publisher = Publisher(
            PipelineContext(nats_client, settings.max_in_flight),
            settings.cloudevents_source,
            settings.publish_timeout_seconds,
            metrics,
        )
        self._probe = nats_client.jetstream(timeout=settings.publish_timeout_seconds)
        self._maintenance = Maintenance(settings, metrics, clock)
        self.liveness = Liveness(settings.stall_seconds)
        self._wake = asyncio.Event()
        self._database_ok = False
        self._nats_lost_since: float | None = None

    @property
    def ready(self) -> bool:
        """Both PostgreSQL (or SQLite) and NATS are reachable."""
        return self._database_ok and self._nc.is_connected

    async def relay_batch(
        self,
        conn: AsyncConnection,
        partitions: tuple[int, ...] | None,
        stopping: asyncio.Event | None = None,
    ) -> BatchResult:
        """Claims, publishes and records batches of `partitions` (None: all), one transaction.

        A full batch leaves more behind, so the next one is claimed while it publishes:
        PostgreSQL's work and this process's overlap, in the same transaction and on the same
        session (whose advisory locks own the partitions), up to BATCHES_PER_TRANSACTION
        batches. Each batch goes out in two halves, each marked while the next one publishes
        (`HalvesInFlight`): no more than a batch is ever published and not yet marked. The next
        batch is published only once every event of the one before was acknowledged, so no
        user's event can overtake an earlier one that failed; nor once `stopping` is set.
        Otherwise its rows stay pending for the next transaction.
        """
        settings = self._settings
        result = BatchResult()
        async with conn.begin():
            session = asyncio.Lock()  # one statement at a time on the session
            halves = HalvesInFlight(self._publisher, partial(self._mark, conn), session)
            following: asyncio.Future[list[OutboxRow]] | None = None
            try:
                rows = await self._claim(conn, partitions)
                for batch in range(1, BATCHES_PER_TRANSACTION + 1):
                    result.claimed += len(rows)
                    if len(rows) == settings.batch_size and batch < BATCHES_PER_TRANSACTION:
                        beside = self._claim_beside(conn, session, partitions, rows)
                        following = asyncio.ensure_future(beside)
                        await asyncio.sleep(0)  # the claim goes out before the sends (halves.py)
                    await halves.relay(rows, result)
                    rows, following = await _outcome(following), None
                    if not rows or result.failures or (stopping and stopping.is_set()):
                        break
                await halves.finish()
            finally:
                running = [halves.settle(), *([following] if following else [])]
                await asyncio.gather(*running, return_exceptions=True)
        for seq in halves.parked:
            log.error("outbox row %s parked after %s attempts", seq, settings.max_attempts)
        if result.transient_failure:
            self._nats_failed()
        else:
            self._nats_ok()
        return result

    async def _claim_beside(
        self,
        conn: AsyncConnection,
        session: asyncio.Lock,
        partitions: tuple[int, ...] | None,
        rows: list[OutboxRow],
    ) -> list[OutboxRow]:
        """The batch after `rows`, claimed while they publish."""
        async with session:
            return await self._claim(conn, partitions, besides=[row.seq for row in rows])

    async def _claim(
        self,
        conn: AsyncConnection,
        partitions: tuple[int, ...] | None,
        besides: Sequence[int] = (),
    ) -> list[OutboxRow]:
        """The oldest pending rows of `partitions` but `besides`, a batch at most."""
        settings = self._settings
        return await outbox_store.claim_pending(
            conn, settings.batch_size, partitions, settings.partitions, besides=besides
        )

    async def _mark(
        self, conn: AsyncConnection, rows: list[OutboxRow], result: BatchResult
    ) -> list[int]:
        """Marks the acknowledged rows, counts the failures; returns the rows now parked."""
        acked_at = self._clock()
        await outbox_store.mark_dispatched(conn, result.acked, acked_at)
        self._metrics.acknowledged(rows, result.acked, acked_at)
        return await outbox_store.record_failures(
            conn, result.failures, self._settings.max_attempts
        )

    def _nats_ok(self) -> None:
        self._nats_lost_since = None

    def _nats_failed(self) -> None:
        if self._nats_lost_since is None:
            self._nats_lost_since = time.monotonic()

    @property
    def _handover_due(self) -> bool:
        lost = self._nats_lost_since
        return (
            lost is not None and time.monotonic() - lost >= self._settings.leader_handover_seconds
        )

    async def _nats_answers(self) -> bool:
        """A JetStream API round trip: a connection that looks up may still lead nowhere.

        Not `flush()`: after a flush times out, nats-py 2.16 trips over the late PONG and
        leaves a connection that answers PINGs but delivers no more replies.
        """
        if not self._nc.is_connected:
            return False
        try:
            with self.liveness.waiting("probing NATS"):
                await self._probe.account_info()
        except (NatsError, TimeoutError):
            return False
        return True

    async def _wait(self, stopping: asyncio.Event, seconds: float, reason: str) -> None:
        """Until woken by NOTIFY, stopped, or `seconds` pass: a known wait."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            with self.liveness.waiting(reason):
                await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    async def _relay(self, conn: AsyncConnection, stopping: asyncio.Event) -> None:
        settings = self._settings
        ownership = Ownership(
            PartitionLocks(conn, settings.lock_key) if is_postgres(conn) else None,
            settings,
            self._metrics,
        )
        backoff = settings.backoff_initial_seconds
        try:
            await ownership.join()
            while not stopping.is_set():
                if ownership.owned and self._handover_due:
                    log.warning(
                        "NATS unreachable for %.0fs: handing this bridge's partitions over",
                        settings.leader_handover_seconds,
                    )
                    sever(self._nc)
                    await ownership.leave()
                if not ownership.joined:
                    if not await self._nats_answers():
                        await self._wait(stopping, backoff, "NATS unreachable, handed over")
                        backoff = min(backoff * 2, settings.backoff_max_seconds)
                        continue
                    self._nats_ok()
                    await ownership.join()
                await ownership.rebalance()
                self._database_ok = True
                if not ownership.owned:
                    await self._wait(stopping, settings.rebalance_interval_seconds, "standing by")
                    continue
                if not self._nc.is_connected:
                    # Claiming now would only hold row locks and fill the client's buffer.
                    self._nats_failed()
                    await self._maintenance.run(conn)  # the backlog gauges keep ageing meanwhile
                    await self._wait(stopping, backoff, "NATS disconnected")
                    backoff = min(backoff * 2, settings.backoff_max_seconds)
                    continue
                claimed = (await self.relay_batch(conn, ownership.claimable, stopping)).claimed
                await self._maintenance.run(conn)
                self.liveness.progress()
                if self._nats_lost_since is not None:
                    log.warning("NATS unavailable; retrying in %.1fs", backoff)
                    await self._wait(stopping, backoff, "NATS unavailable")
                    backoff = min(backoff * 2, settings.backoff_max_seconds)
                    continue
                backoff = settings.backoff_initial_seconds
                if claimed < settings.batch_size:
                    await self._wait(stopping, settings.poll_interval_seconds, "idle")
        finally:
            ownership.forget()

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
                        backoff = self._settings.backoff_initial_seconds
                        try:
                            await self._relay(conn, stopping)
                        finally:
                            # Not back to the pool: its session may still hold this bridge's
                            # advisory locks (membership, partitions) after an error.
                            await conn.invalidate()
                except DATABASE_ERRORS as exc:
                    self._database_ok = False
                    log.warning("database unavailable for the relay: %s", describe(exc))
                    if self._nats_lost_since is not None:
                        # The partitions went with the session; what NATS has not taken yet
                        # must not follow another bridge's publishes of the same rows.
                        sever(self._nc)
                else:
                    continue
                await self._wait(stopping, backoff, "database unavailable")
                backoff = min(backoff * 2, self._settings.backoff_max_seconds)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
