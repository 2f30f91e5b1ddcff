"""Point reads on connections held between queries, their statements run on psycopg directly.

A reader that runs one query at a time (a coalescer's, platform/db/coalescing.py) pays, through
a unit of work, a pool checkout, a switch to autocommit, SQLAlchemy's execution and a checkin on
every query: measured here, 317 µs of CPU a point query, against 127 µs for the same SQL on the
psycopg connection underneath (bench/results/issue-18). So the reader keeps its connections
checked out of the engine's pool, in autocommit (each query is one statement, one snapshot, as
a read-only unit of work runs it), and runs the statement on psycopg (platform/db/driver.py:
SQLAlchemy's compiled statement; through SQLAlchemy while tracing listens).

What a unit of work would do is kept: the call's deadline bounds the statement
(statement_timeout); a connection idle longer than the pool's ping interval is pinged before
use, and one a failed or cancelled query left anywhere but at rest is invalidated, never reused;
database trouble becomes the service error a unit of work raises (UNAVAILABLE,
DEADLINE_EXCEEDED, INVALID_ARGUMENT).

`HeldConnections` is the holding alone, for any statement run on autocommit connections: the
group commit's (platform/db/group_commit.py) hold theirs the same way. `HeldReader` runs one
SELECT on them.

At most `keep_idle` connections are held between queries (0: none, each query checks one out
and gives it back); a burst's extra ones go back to the pool at rest when their query ends, so
the writers' share of the pool never shrinks by more. A held connection no query used for
`give_back_seconds` goes back to the pool too: when the reads stop, the writers have the whole
pool (an operator sizes it for the calls at once, whichever they are).
`close()` returns the connections to the pool; the process calls it before disposing the engine
(a held session would otherwise outlive it and, for one, keep its database from being dropped).
"""

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from usersuite.platform.db.availability import service_error
from usersuite.platform.db.driver import DriverStatement, driver_of
from usersuite.platform.db.liveness import PING_AFTER_IDLE_SECONDS
from usersuite.platform.db.statement_timeout import bound_by_deadline, timeout_wanted

# Reads that paused this long have stopped for now: their held connections go back to the pool.
GIVE_BACK_AFTER_IDLE_SECONDS = 1.0


def _raise_as_service_error(error: Exception) -> NoReturn:
    """The service's error for database trouble (UNAVAILABLE, ...); others as they are."""
    mapped = service_error(error)
    if mapped is not None:
        raise mapped from error
    raise error


@dataclass(eq=False)
class Held:
    conn: AsyncConnection
    driver: psycopg.AsyncConnection[Any]
    # One cursor for every statement on the connection (they run one at a time): a cursor
    # made per statement cost about 20 µs of CPU a point read (bench/results/issue-18).
    cursor: psycopg.AsyncCursor[Any]
    used: float
    # Read once, as the connection is taken from the pool: what each statement would otherwise
    # ask SQLAlchemy's proxies for. `info` is the pooled connection's (its timeout is noted
    # there); `direct`, whether statements may run on `driver` (HeldConnections.direct).
    direct: bool
    info: dict[str, Any]


class HeldConnections:
    """Connections held checked out of `engine`'s pool between statements, in autocommit
    (PostgreSQL only): `take()` one, run statements on it, `release()` it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        idle_seconds: float = PING_AFTER_IDLE_SECONDS,
        keep_idle: int = 1,
        give_back_seconds: float = GIVE_BACK_AFTER_IDLE_SECONDS,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("held connections run statements on psycopg: PostgreSQL only")
        if keep_idle < 0:
            raise ValueError("keep_idle must not be negative")
        self._engine = engine
        self._sync_engine = engine.sync_engine
        self._idle_seconds = idle_seconds
        self._keep_idle = keep_idle
        self._idle: list[Held] = []
        self._closed = False
        self._give_back_seconds = give_back_seconds
        self._give_back: asyncio.TimerHandle | None = None
        self._giving_back: set[asyncio.Task[None]] = set()

    async def release(self, held: Held) -> None:
        """Keeps `held` for the next statement, or gives it back to the pool."""
        # A cancelled or failed statement can leave the session mid-statement (or gone): only a
        # connection back at rest, outside any transaction, serves the next one.
        at_rest = held.driver.info.transaction_status == TransactionStatus.IDLE
        if not at_rest or held.conn.invalidated or self._closed:
            await asyncio.shield(self._drop(held))
        elif len(self._idle) >= self._keep_idle:
            await asyncio.shield(held.conn.close())  # at rest: the pool takes it back
        else:
            held.used = time.monotonic()
            self._idle.append(held)
            self._schedule_give_back()

    async def close(self) -> None:
        """Returns every held connection to the pool (in-flight ones when they finish)."""
        self._closed = True
        if self._give_back is not None:
            self._give_back.cancel()
            self._give_back = None
        await asyncio.gather(*self._giving_back)
        idle, self._idle = self._idle, []
        for held in idle:
            await held.conn.close()

    def _schedule_give_back(self) -> None:
        """A timer for the idle connection that was used longest ago (one timer at a time)."""
        if self._give_back is not None or not self._idle:
            return
        due = min(held.used for held in self._idle) + self._give_back_seconds
        # An empty context: no call's trace or principal goes with the connections given back.
        self._give_back = asyncio.get_running_loop().call_later(
            max(0.0, due - time.monotonic()), self._give_back_idle, context=contextvars.Context()
        )

    def _give_back_idle(self) -> None:
        self._give_back = None
        cutoff = time.monotonic() - self._give_back_seconds
        unused = [held for held in self._idle if held.used <= cutoff]
        if unused:
            self._idle = [held for held in self._idle if held.used > cutoff]
            task = asyncio.ensure_future(self._return_to_pool(unused))
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)
        self._schedule_give_back()

    @staticmethod
    async def _return_to_pool(unused: list[Held]) -> None:
        """Idle connections are at rest, in autocommit: the pool takes them back as they are."""
        for held in unused:
            with contextlib.suppress(Exception):  # a connection that cannot be given back is gone
                await held.conn.close()

    async def take(self) -> Held:
        """A held connection (pinged first if it lay idle), or a new one from the pool; a
        database that cannot be reached raises the service's error (UNAVAILABLE)."""
        while self._idle:
            held = self._idle.pop()
            if time.monotonic() - held.used < self._idle_seconds or await self._alive(held):
                return held
            await self._drop(held)
        try:
            conn = await self._engine.connect()
        except Exception as error:
            _raise_as_service_error(error)
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
        except BaseException as error:
            await asyncio.shield(conn.invalidate())  # half set up: never back into the pool
            await conn.close()
            if isinstance(error, Exception):
                _raise_as_service_error(error)
            raise
        direct = driver_of(conn) is not None
        driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
        return Held(conn, driver, driver.cursor(), time.monotonic(), direct, conn.info)

    def direct(self, held: Held) -> bool:
        """Whether statements may run on `held.driver` itself: not while anything listens to
        the engine's statements (tracing), which must then see them through SQLAlchemy."""
        return held.direct and not self._sync_engine.dispatch.before_cursor_execute

    @staticmethod
    async def bound(held: Held) -> None:
        """Bounds `held`'s statements by the current call's deadline (statement_timeout.py),
        asking SQLAlchemy nothing while the session's timeout will do."""
        if timeout_wanted(held.info) is not None:
            await bound_by_deadline(held.conn)

    async def _alive(self, held: Held) -> bool:
        try:
            await held.driver.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    async def _drop(self, held: Held) -> None:
        """Forgets a connection whose state is unknown (or, once closed, any): the pool closes
        it rather than reuse it, or takes it back at rest."""
        try:
            if not self._closed or held.driver.info.transaction_status != TransactionStatus.IDLE:
                await held.conn.invalidate()
            await held.conn.close()
        except Exception:  # noqa: S110 - it is gone either way; the query's error matters
            pass


class HeldReader:
    """Runs read-only statements (the one it was made with, and `others`), one at a time per
    held connection (PostgreSQL only)."""

    def __init__(
        self,
        engine: AsyncEngine,
        statement: Select[Any],
        *others: Select[Any],
        idle_seconds: float = PING_AFTER_IDLE_SECONDS,
        keep_idle: int = 1,
        give_back_seconds: float = GIVE_BACK_AFTER_IDLE_SECONDS,
    ) -> None:
        self._held = HeldConnections(
            engine,
            idle_seconds=idle_seconds,
            keep_idle=keep_idle,
            give_back_seconds=give_back_seconds,
        )
        self._statements = {one: DriverStatement(one) for one in (statement, *others)}
        self._statement = self._statements[statement]

    async def rows(
        self, params: Mapping[str, Any], statement: Select[Any] | None = None
    ) -> Sequence[Sequence[Any]]:
        """The rows for `params` of `statement` (one the reader was made with; None: the
        first); database trouble raises the service's errors."""
        driver_statement = self._statement if statement is None else self._statements[statement]
        held = await self._held.take()
        try:
            await self._held.bound(held)
            if self._held.direct(held):
                return await driver_statement.direct_rows(held.cursor, held.conn, params)
            return await driver_statement.rows(held.conn, params)
        except DBAPIError as error:
            _raise_as_service_error(error)
        finally:
            await self._held.release(held)

    async def close(self) -> None:
        """Returns every held connection to the pool (in-flight ones when they finish)."""
        await self._held.close()
