"""The relay's view of the outbox: claim pending rows, record outcomes, park, retry, purge."""

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Update,
    and_,
    any_,
    bindparam,
    delete,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.db.dialect import as_utc
from usersuite.platform.db.tables import in_state, outbox
from usersuite.platform.service.outbox import (
    DISPATCHED,
    PARKED,
    PENDING,
    Backlog,
    Failure,
    OutboxRow,
)

NOTIFY_CHANNEL = "usersuite_outbox"

# How the relay's sessions plan (PostgreSQL). The outbox is a queue: a burst of rows makes its
# statistics stale until the next ANALYZE, and then the planner, guessing a few pending rows,
# would read them all by bitmap and sort them to take the first batch, and a prepared claim's
# generic plan, which knows neither the limit nor the rows left out, would do the same. Planned
# for its own parameters and without bitmaps, a claim walks the pending index in seq order and
# stops at the batch: about 2 ms for 500 rows however many are pending (claim_pending).
RELAY_SESSION = {"plan_cache_mode": "force_custom_plan", "enable_bitmapscan": "off"}


# Most events carry no trace context: no JSON decoding for them.
NO_TRACE_CONTEXT = (None, "", "{}")
# OutboxRow's fields, in its order: a row is built from its columns by position.
COLUMNS = tuple(outbox.c[name] for name in OutboxRow._fields)


def _rows(result: Iterable[Sequence[Any]]) -> list[OutboxRow]:
    """Rows of COLUMNS as OutboxRows; unpacked by position, the relay's claim decodes a few
    hundred rows every few milliseconds."""
    return [
        OutboxRow(
            seq,
            event_id,
            event_type,
            aggregate_name,
            aggregate_version,
            bytes(payload),
            {} if trace_context in NO_TRACE_CONTEXT else json.loads(trace_context),
            principal,
            as_utc(occurred_time),
            attempts,
            state,
            last_error,
        )
        for (
            seq,
            event_id,
            event_type,
            aggregate_name,
            aggregate_version,
            payload,
            trace_context,
            principal,
            occurred_time,
            attempts,
            state,
            last_error,
        ) in result
    ]


def _seqs_matching(dialect: str, name: str) -> ColumnElement[bool]:
    """`seq` is one of the parameter `name`'s: one array parameter on PostgreSQL, not one bind
    parameter per row. An array parameter, not text cast in the statement (which psycopg sends
    faster): a cast is no constant to the planner, so `= ANY` over it is not hashed, and on an
    outbox whose statistics are stale (a fresh one: a burst since the last ANALYZE) a mark that
    scanned the table compared each row with every element (200 ms a mark, not 4)."""
    if dialect == "postgresql":
        return outbox.c.seq == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return outbox.c.seq.in_(bindparam(name, expanding=True))


@lru_cache(maxsize=64)
def _claim_query(
    limit: int, partitions: tuple[int, ...] | None, partition_count: int, besides: str | None
) -> Select[Any]:
    """Built once per shape: the relay claims every few milliseconds when events trickle in.
    With `besides` (the dialect's name), the rows of parameter "besides" are left out."""
    parked = outbox.alias("parked")
    # NOT IN, not NOT EXISTS: the parked rows' users become one hashed set, probed by each
    # pending row as the pending index hands the rows over in seq order, and the LIMIT stops
    # the walk. PostgreSQL turns NOT EXISTS into an anti join, which, once statistics are
    # stale (a burst of rows since the last ANALYZE), it hashed and then sorted every pending
    # row to take the first batch. aggregate_name is never NULL, so NOT IN means NOT EXISTS.
    held_back = outbox.c.aggregate_name.in_(
        select(parked.c.aggregate_name).where(in_state(PARKED, parked))
    )
    return (
        select(*COLUMNS)
        .where(in_state(PENDING), ~held_back)
        .where(
            true()
            if partitions is None
            else (outbox.c.partition_key % partition_count).in_(partitions)
        )
        .where(true() if besides is None else ~_seqs_matching(besides, "besides"))
        .order_by(outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def claim_pending(
    conn: AsyncConnection,
    limit: int,
    partitions: Sequence[int] | None,
    partition_count: int,
    besides: Sequence[int] = (),
) -> list[OutboxRow]:
    """The oldest pending rows of `partitions` (None: all) in commit-safe order, locked.

    A user with a parked event is held back entirely, so the user's later events can never
    overtake it: they flow again, in order, once the parked row is retried. `besides` are rows
    this transaction claimed already (its own locks do not make SKIP LOCKED pass them over);
    they are left out by their ids, never by "seq greater than", so a row with a lower seq that
    committed in between is still claimed, before its user's later rows.
    """
    shape = None if partitions is None else tuple(partitions)
    if not besides:
        return _rows(await conn.execute(_claim_query(limit, shape, partition_count, None)))
    query = _claim_query(limit, shape, partition_count, conn.dialect.name)
    return _rows(await conn.execute(query, {"besides": list(besides)}))


@lru_cache(maxsize=2)
def _mark_query(dialect: str) -> Update:
    return (
        update(outbox)
        .where(_seqs_matching(dialect, "seqs"))
        .values(state=DISPATCHED, dispatched_time=bindparam("now"), last_error=None)
    )


async def mark_dispatched(conn: AsyncConnection, seqs: Sequence[int], now: datetime) -> None:
    if seqs:
        await conn.execute(_mark_query(conn.dialect.name), {"seqs": list(seqs), "now": now})


async def record_failures(
    conn: AsyncConnection, failures: Sequence[Failure], max_attempts: int
) -> list[int]:
    """Counts the failed attempts; returns the rows that are now parked."""
    parked: list[int] = []
    for failure in failures:
        attempts = outbox.c.attempts + (1 if failure.counts else 0)
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.seq == failure.seq)
            .values(attempts=attempts, last_error=failure.error[:2000])
            .returning(outbox.c.attempts)
        )
        if failure.counts and result.scalar_one() >= max_attempts:
            await conn.execute(
                update(outbox).where(outbox.c.seq == failure.seq).values(state=PARKED)
            )
            parked.append(failure.seq)
    return parked


async def backlog(conn: AsyncConnection) -> Backlog:
    pending = (
        await conn.execute(
            select(func.count(), func.min(outbox.c.occurred_time)).where(in_state(PENDING))
        )
    ).one()
    parked = await conn.scalar(select(func.count()).where(in_state(PARKED)))
    oldest = as_utc(pending[1]) if pending[1] is not None else None
    return Backlog(pending=int(pending[0]), parked=int(parked or 0), oldest_pending=oldest)


async def purge_dispatched(conn: AsyncConnection, older_than: datetime, batch_size: int) -> int:
    """Deletes one small batch of old dispatched rows; call again while it returns batch_size."""
    victims = (
        select(outbox.c.seq)
        .where(and_(outbox.c.state == DISPATCHED, outbox.c.dispatched_time < older_than))
        .order_by(outbox.c.seq)
        .limit(batch_size)
    )
    result = await conn.execute(delete(outbox).where(outbox.c.seq.in_(victims.scalar_subquery())))
    return int(result.rowcount)


async def list_rows(conn: AsyncConnection, state: str | None, limit: int) -> list[OutboxRow]:
    query = select(*COLUMNS).order_by(outbox.c.seq).limit(limit)
    if state is not None:
        query = query.where(outbox.c.state == state)
    return _rows(await conn.execute(query))


async def requeue_parked(conn: AsyncConnection, event_ids: Sequence[str] | None) -> int:
    """Parked rows (all, or the given events) go back to pending with fresh attempts."""
    query = update(outbox).where(in_state(PARKED))
    if event_ids is not None:
        query = query.where(outbox.c.event_id.in_(event_ids))
    result = await conn.execute(query.values(state=PENDING, attempts=0))
    return int(result.rowcount)


def retention_cutoff(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)
