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

A write that fails in either fails the commit with the error SQLAlchemy would have raised
for it (an IntegrityError for a unique clash), passed through the write's own `errors` mapping,
so a repository turns a clash into the same domain error either way.
"""

from collections.abc import Callable, Mapping
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


class DeferredWrites:
    """The blind writes of one connection's transaction; `deferring` False runs each at once."""

    def __init__(self, conn: AsyncConnection, *, deferring: bool = True) -> None:
        self._conn = conn
        self._pipelined = deferring and conn.dialect.name == "postgresql"
        self._pending: list[tuple[UpdateBase, Mapping[str, Any], ErrorMapping | None]] = []

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
        try:
            await self._conn.execute(statement, params)
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
            # As SQLAlchemy raises it; the first write whose mapping claims it names it (the
            # pipeline reports the first failure, not which statement it came from).
            error = exc if isinstance(exc, DBAPIError) else as_sqlalchemy_error(exc, self._conn)
            for _, _, errors in pending:
                mapped = errors(error) if errors else None
                if mapped is not None:
                    raise mapped from None
            if error is exc:
                raise
            raise error from exc
        finally:
            if fresh:
                await _back_to_transactions(driver)
        # psycopg has committed; SQLAlchemy's commit only ends its own bookkeeping (psycopg
        # sends nothing when no transaction is open).
        await transaction.commit()

    async def _in_pipeline(
        self,
        driver: "psycopg.AsyncConnection[Any]",
        pending: list[tuple[UpdateBase, Mapping[str, Any], ErrorMapping | None]],
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
