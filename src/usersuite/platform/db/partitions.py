"""Outbox partitions: a stable hash of the aggregate, one PostgreSQL advisory lock per partition.

Every row stores `partition_key`, a hash of its aggregate that never changes; the relay reads
partition `key % count`, so one user's events always share a partition. A bridge relays a
partition only while its session holds that partition's advisory lock (two-int form
`(namespace, partition)`), and claims rows on the same session: when the session ends, its row
locks and its partitions go together, so no other bridge can overtake a claimed event.

Each bridge also holds a member lock `(namespace + 1, backend pid)` for as long as it takes part;
`pg_locks` then tells every bridge how many are alive and which partitions are taken.

These locks belong to the session, not to a transaction: a pooled connection given back after
an error that left its session alive (a cancelled statement, a lock timeout) would still hold
them, and its next user with them. So joining starts from a session that holds none, and the
relay discards its session whenever it leaves its loop.
"""

import zlib
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# The partition key is a non-negative 31-bit integer, so it fits PostgreSQL's INTEGER.
KEY_MASK = 0x7FFF_FFFF

_ADVISORY = """
    SELECT classid::bigint AS key1, objid::bigint AS key2, pid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid IN (CAST(:partitions AS oid), CAST(:members AS oid))
"""


def partition_key(aggregate_name: str) -> int:
    """A hash of the aggregate's name that is the same in every process and every release."""
    return zlib.crc32(aggregate_name.encode("utf-8")) & KEY_MASK


@dataclass(frozen=True)
class LockTable:
    """Who holds what: the live bridges (backend pids) and each taken partition's holder."""

    members: frozenset[int]
    holders: dict[int, int]


class PartitionLocks:
    """The advisory locks of one bridge's session (the connection it claims rows on)."""

    def __init__(self, conn: AsyncConnection, namespace: int) -> None:
        self._conn = conn
        self._partitions = namespace
        self._members = namespace + 1

    async def _scalar(self, sql: str, **params: int) -> object:
        value = await self._conn.scalar(text(sql), params)
        await self._conn.commit()  # session-level locks outlive the statement's transaction
        return value

    async def join(self) -> int:
        """Takes this session's member lock, once however often it joins; returns its pid.

        Advisory locks count: one taken twice needs two unlocks, and a member that left once
        would still count as alive and keep its fair share from the others.
        """
        await self._scalar("SELECT pg_advisory_unlock_all()")
        pid = int(str(await self._scalar("SELECT pg_backend_pid()")))
        await self._scalar("SELECT pg_advisory_lock(:k1, :k2)", k1=self._members, k2=pid)
        return pid

    async def leave(self) -> None:
        await self._scalar("SELECT pg_advisory_unlock(:k1, pg_backend_pid())", k1=self._members)

    async def try_take(self, partition: int) -> bool:
        return bool(
            await self._scalar(
                "SELECT pg_try_advisory_lock(:k1, :k2)", k1=self._partitions, k2=partition
            )
        )

    async def release(self, partition: int) -> None:
        await self._scalar("SELECT pg_advisory_unlock(:k1, :k2)", k1=self._partitions, k2=partition)

    async def table(self) -> LockTable:
        rows = (
            await self._conn.execute(
                text(_ADVISORY), {"partitions": self._partitions, "members": self._members}
            )
        ).all()
        await self._conn.commit()
        members = frozenset(int(row.key2) for row in rows if row.key1 == self._members)
        holders = {int(row.key2): int(row.pid) for row in rows if row.key1 == self._partitions}
        return LockTable(members, holders)
