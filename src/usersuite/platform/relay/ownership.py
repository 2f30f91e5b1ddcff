"""Which outbox partitions this bridge relays: joining, sharing fairly, and handing over.

On SQLite there is one process and no locking: it owns every partition. On PostgreSQL the
partitions are advisory locks of the relay's session (see adapters/db/partitions.py); the share
is re-planned every rebalance interval from the lock table that all bridges see.
"""

import logging
import time

from usersuite.platform.config.groups import BridgeSettings
from usersuite.platform.db.partitions import PartitionLocks
from usersuite.platform.relay.metrics import RelayMetrics
from usersuite.platform.relay.partitioning import plan

log = logging.getLogger(__name__)


class Ownership:
    def __init__(
        self, locks: PartitionLocks | None, settings: BridgeSettings, metrics: RelayMetrics
    ) -> None:
        self._locks = locks
        self._count = settings.partitions
        self._interval = settings.rebalance_interval_seconds
        self._metrics = metrics
        self._me: int | None = None
        self._next_rebalance = 0.0
        self.joined = False
        self.owned: set[int] = set()

    @property
    def claimable(self) -> tuple[int, ...] | None:
        """The partitions to claim from; None when this bridge owns all of them."""
        if len(self.owned) == self._count:
            return None
        return tuple(sorted(self.owned))

    async def join(self) -> None:
        if self._locks is not None:
            self._me = await self._locks.join()
        else:
            self._set(set(range(self._count)))
        self.joined = True
        self._next_rebalance = 0.0

    async def leave(self) -> None:
        """Gives every partition back and stops counting as a member."""
        if self._locks is not None:
            for partition in sorted(self.owned):
                await self._locks.release(partition)
            await self._locks.leave()
        self._set(set())
        self.joined = False

    async def rebalance(self) -> None:
        if self._locks is None or self._me is None or time.monotonic() < self._next_rebalance:
            return
        self._next_rebalance = time.monotonic() + self._interval
        table = await self._locks.table()
        step = plan(self._count, table.members, table.holders, self._me)
        owned = {p for p, holder in table.holders.items() if holder == self._me}
        for partition in step.release:
            await self._locks.release(partition)
            owned.discard(partition)
        for partition in step.take:
            if await self._locks.try_take(partition):
                owned.add(partition)
        if owned != self.owned:
            log.info("relaying partitions %s of %s", sorted(owned) or "none", self._count)
        self._set(owned)

    def forget(self) -> None:
        """The session is gone, and with it every lock."""
        self._set(set())
        self.joined = False

    def _set(self, owned: set[int]) -> None:
        self.owned = owned
        self._metrics.partitions.set(len(owned))
        self._metrics.leader.set(1 if owned else 0)
