"""Blind writes sent with their COMMIT in one round trip: one statement, or psycopg's pipeline.

A unit of work defers the writes whose outcome it does not read (an insert of a new row, an
outbox row): on PostgreSQL they wait beside the connection and travel at commit, so a create
costs one network round trip instead of four. When nothing else ran in the transaction and the
writes are INSERTs into distinct tables (a create: the user and its event), they go as one
statement, the others as data-modifying CTEs of the last, outside a transaction block: a single
statement commits all or nothing, needs no BEGIN or COMMIT, and costs a fifth of a create's
CPU less than the pipeline (bench/results/issue-18). Otherwise they go in pipeline mode with
BEGIN (unless begun) and COMMIT. Two INSERTs into one table never share a statement: the order
of a statement's CTEs is unspecified, and their sequence numbers must follow the writes' order
(the relay publishes a user's events in `seq` order). Any other statement
on the connection sends the waiting writes first (`flush`), in order, so deferring never changes
what a later statement of the transaction sees. Elsewhere (SQLite, in process) a write runs at
once. Either way the write runs through SQLAlchemy (its compiled statements, types and
tracing): in pipeline mode psycopg sends it without waiting, and SQLAlchemy reads nothing back
from an insert or update.

The writes of a unit of work that connects lazily wait with no connection at all: it opens one
at the first statement that needs it (`connection()`, which sends the waiting writes first). One
that needs none (a create without a request id) commits them through the group commit
(platform/db/group_commit.py), in a statement shared with the creates committing with it.

A write that fails in either fails the commit with the error SQLAlchemy would have raised
for it (an IntegrityError for a unique clash), passed through the write's own `errors` mapping,
so a repository turns a clash into the same domain error either way.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction
from sqlalchemy.sql.dml import UpdateBase

from usersuite.platform.db.driver import (
    as_sqlalchemy_error,
    listened,
    one_statement,
    one_statement_params,
    write_sql,
)

# Turns the SQLAlchemy error of a failed write into the error the caller should see (or returns
# None to let it pass as it is).
ErrorMapping = Callable[[DBAPIError], Exception | None]
# A deferred write: the statement, its parameters and its errors' mapping.
Write = tuple[UpdateBase, Mapping[str, Any], ErrorMapping | None]


def as_failure(
    exc: psycopg.Error | DBAPIError, conn: AsyncConnection, writes: Sequence[Write]
) -> Exception:
    """What a failed write raises: the error as SQLAlchemy raises it, or the domain error of
    the first write whose mapping claims it (the pipeline and a shared statement report the
    first failure, not which write it came from)."""
    error = exc if isinstance(exc, DBAPIError) else as_sqlalchemy_error(exc, conn)
    if error is not exc:
        error.__cause__ = exc
    for _, _, errors in writes:
        mapped = errors(error) if errors else None
        if mapped is not None:
            mapped.__cause__ = None  # as `raise ... from None`: the domain error says it all
            mapped.__suppress_context__ = True
            return mapped
    return error


class DeferredWrites:
    """The blind writes of one connection's transaction; `deferring` False runs each at once."""

    def __init__(
        self,
        conn: AsyncConnection | None,
        *,
        deferring: bool = True,
        connect: Callable[[], Awaitable[AsyncConnection]] | None = None,
    ) -> None:
        """On `conn`, or (conn None) on the connection `connect` opens at the first statement
        that needs one: a unit of work that connects lazily on PostgreSQL, whose writes defer."""
        if (conn is None) == (connect is None):
            raise ValueError("deferred writes need a connection or a way to open one, not both")
        self._conn = conn
        self._connect = connect
        self._pipelined = deferring and (conn is None or conn.dialect.name == "postgresql")
        self._pending: list[Write] = []

    @property
    def pending(self) -> list[Write]:
        """The writes waiting for the commit, in order."""
        return self._pending

    async def connected(self) -> AsyncConnection:
        """The transaction's connection, opened now if it was not (the writes still wait)."""
        if self._conn is None:
            assert self._connect is not None
            self._conn = await self._connect()
        return self._conn

    async def connection(self) -> AsyncConnection:
        """The transaction's connection for a statement of the caller's, with the waiting
        writes sent first (so the statement sees them)."""
        conn = await self.connected()
        await self.flush()
        return conn

    async def write(
        self, statement: UpdateBase, params: Mapping[str, Any], errors: ErrorMapping | None = None
    ) -> None:
        """Runs the write now (SQLite, or not deferring) or with the commit (PostgreSQL)."""
        if self._pipelined:
            self._pending.append((statement, params, errors))
            return
        await self._now(statement, params, errors)

    async def _now(
        self, statement: UpdateBase, params: Mapping[str, Any], errors: ErrorMapping | None
    ) -> None:
        conn = await self.connected()
        try:
            await conn.execute(statement, params)
        except DBAPIError as exc:
            mapped = errors(exc) if errors else None
            if mapped is not None:
                raise mapped from None
            raise

    async def flush(self) -> None:
        """Sends the waiting writes before another statement runs on the connection."""
        pending, self._pending = self._pending, []
        for statement, params, errors in pending:
            await self._now(statement, params, errors)

    def discard(self) -> None:
        """The transaction rolls back: the waiting writes never happened."""
        self._pending.clear()

    async def commit(self, transaction: AsyncTransaction) -> None:
        """Commits `transaction`, its waiting writes and the COMMIT in one round trip."""
        if not self._pending:
            await transaction.commit()
            return
        assert self._conn is not None, "a transaction has its connection"
        pending, self._pending = self._pending, []
        raw = await self._conn.get_raw_connection()
        driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
        # Nothing sent yet (the common case): psycopg would send its own BEGIN and wait for
        # it, so the writes go as one statement, or the transaction's own BEGIN and COMMIT
        # travel in the pipeline, in autocommit mode either way.
        fresh = driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        # Straight to psycopg, compiled once, unless listened to (tracing).
        direct = not listened(self._conn)
        together = (
            one_statement(tuple((statement, tuple(params)) for statement, params, _ in pending))
            if fresh and direct
            else None
        )
        if fresh:
            await driver.set_autocommit(True)
        try:
            if together is not None:
                # One statement outside a transaction block is a transaction of its own: the
                # writes commit together or not at all, with no BEGIN and COMMIT to send.
                await driver.execute(together, one_statement_params([p for _, p, _ in pending]))
            else:
                await self._in_pipeline(driver, pending, fresh=fresh, direct=direct)
        except (psycopg.Error, DBAPIError) as exc:
            raise as_failure(exc, self._conn, pending)  # noqa: B904 - its cause is set
        finally:
            if fresh:
                await _back_to_transactions(driver)
        # psycopg has committed; SQLAlchemy's commit only ends its own bookkeeping (psycopg
        # sends nothing when no transaction is open).
        await transaction.commit()

    async def _in_pipeline(
        self,
        driver: "psycopg.AsyncConnection[Any]",
        pending: list[Write],
        *,
        fresh: bool,
        direct: bool,
    ) -> None:
        """The writes in pipeline mode, with BEGIN (unless begun) and COMMIT: one Sync."""
        async with driver.pipeline():
            cursor = driver.cursor()
            if fresh:
                await cursor.execute(b"BEGIN")
            for statement, params, _ in pending:
                sql = write_sql(statement, tuple(params)) if direct else None
                if sql is None:
                    assert self._conn is not None
                    await self._conn.execute(statement, params)
                else:
                    await cursor.execute(sql, params)
            await cursor.execute(b"COMMIT")  # one Sync, at the pipeline's end


async def _back_to_transactions(driver: psycopg.AsyncConnection[Any]) -> None:
    """Ends a transaction a failed pipeline left open, and gives psycopg its transactions back."""
    if driver.closed:
        return
    if driver.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        await driver.execute(b"ROLLBACK")
    await driver.set_autocommit(False)
