"""Point reads on connections held between queries, their statements run on psycopg directly.

A reader that runs one query at a time (a coalescer's, platform/db/coalescing.py) pays, through
a unit of work, a pool checkout, a switch to autocommit, SQLAlchemy's execution and a checkin on
every query: measured here, 317 µs of CPU a point query, against 127 µs for the same SQL on the
psycopg connection underneath (bench/results/issue-18). So the reader keeps its connections
checked out of the engine's pool, in autocommit (each query is one statement, one snapshot, as
a read-only unit of work runs it), and hands each compiled statement to psycopg itself.

What SQLAlchemy would still do is kept where it matters:
- one query definition: the statement is SQLAlchemy's, compiled once for the engine's dialect;
  one whose types need SQLAlchemy's conversions is refused (its values would come back raw);
- tracing and other statement listeners: when anything listens to the engine's statements
  (tracing on), the statement runs through SQLAlchemy on the held connection, so it is seen;
- deadlines: the call's deadline bounds the statement as in a unit of work (statement_timeout);
- liveness: a connection idle longer than the pool's ping interval is pinged before use, and
  one that failed a query (or was cut off by a cancellation) is invalidated, never reused;
- errors: a driver error becomes the SQLAlchemy error and then the service error a unit of work
  would raise (UNAVAILABLE, DEADLINE_EXCEEDED, INVALID_ARGUMENT).

`close()` returns the connections to the pool; the process calls it before disposing the engine
(a held session would otherwise outlive it and, for one, keep its database from being dropped).
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from usersuite.platform.db.liveness import PING_AFTER_IDLE_SECONDS
from usersuite.platform.db.statement_timeout import bound_by_deadline
from usersuite.platform.db.unit_of_work import service_error


@dataclass(eq=False)
class _Held:
    conn: AsyncConnection
    driver: psycopg.AsyncConnection[Any]
    used: float


class HeldReader:
    """Runs one read-only statement at a time per held connection (PostgreSQL only)."""

    def __init__(
        self,
        engine: AsyncEngine,
        statement: Select[Any],
        *,
        idle_seconds: float = PING_AFTER_IDLE_SECONDS,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("held reads run on psycopg: PostgreSQL only")
        compiled = statement.compile(dialect=engine.dialect)
        types = [bind.type for bind in compiled.binds.values()]
        converts = any(t.dialect_impl(engine.dialect).bind_processor(engine.dialect) for t in types)
        converts = converts or any(
            column.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None)
            for column in statement.selected_columns
        )
        if converts:
            raise ValueError("the statement's types need SQLAlchemy's conversions")
        self._engine = engine
        self._statement = statement
        self._sql = compiled.string
        self._idle_seconds = idle_seconds
        self._idle: list[_Held] = []
        self._closed = False

    async def rows(self, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """The statement's rows for `params`; database trouble raises the service's errors."""
        held = await self._take()
        try:
            await bound_by_deadline(held.conn)
            if self._engine.sync_engine.dispatch.before_cursor_execute:
                # Listened to (tracing): through SQLAlchemy, so the listeners see it.
                return list(await held.conn.execute(self._statement, params))
            cursor = await held.driver.execute(self._sql, params)
            return await cursor.fetchall()
        except psycopg.Error as error:
            wrapped = DBAPIError.instance(
                self._sql, params, error, psycopg.Error, hide_parameters=True
            )
            raise service_error(wrapped) or wrapped from error
        except DBAPIError as error:
            raise service_error(error) or error from error
        finally:
            # A cancelled or failed query can leave the session mid-statement (or gone): only a
            # connection back at rest, outside any transaction, serves the next query.
            at_rest = held.driver.info.transaction_status == TransactionStatus.IDLE
            if at_rest and not held.conn.invalidated and not self._closed:
                held.used = time.monotonic()
                self._idle.append(held)
            else:
                await asyncio.shield(self._drop(held))

    async def close(self) -> None:
        """Returns every held connection to the pool (in-flight ones when they finish)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for held in idle:
            await held.conn.close()

    async def _take(self) -> _Held:
        while self._idle:
            held = self._idle.pop()
            if time.monotonic() - held.used < self._idle_seconds or await self._alive(held):
                return held
            await self._drop(held)
        try:
            conn = await self._engine.connect()
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
        except Exception as error:
            mapped = service_error(error)
            if mapped is not None:
                raise mapped from error
            raise
        return _Held(conn, raw.driver_connection, time.monotonic())  # type: ignore[arg-type]

    async def _alive(self, held: _Held) -> bool:
        try:
            await held.driver.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    async def _drop(self, held: _Held) -> None:
        """Forgets a connection whose state is unknown (or, once closed, any): the pool closes
        it rather than reuse it, or takes it back at rest."""
        try:
            if not self._closed or held.driver.info.transaction_status != TransactionStatus.IDLE:
                await held.conn.invalidate()
            await held.conn.close()
        except Exception:  # noqa: S110 - it is gone either way; the query's error matters
            pass
