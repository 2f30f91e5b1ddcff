"""Hot SELECTs run on the psycopg connection underneath SQLAlchemy's, compiled once.

SQLAlchemy's execution costs more CPU than a point query or a page of rows takes on psycopg
(bench/results/issue-18: 202 against 127 µs a point query on one connection; a fifth of a
ListUsers page). The statement stays SQLAlchemy's (one definition per query, compiled once for
the engine's dialect) and runs on the connection SQLAlchemy checked out, inside whatever it began:
psycopg starts a transaction at the first statement unless the connection is in autocommit,
exactly as it does under SQLAlchemy, so the unit of work's view is unchanged.

SQLAlchemy still runs it where its work matters: on another database than PostgreSQL, while
anything listens to the engine's statements (tracing on: its spans stay), and on a connection
it has invalidated. A statement whose types need SQLAlchemy's conversions is refused at
construction, since its values would come back raw. A driver error becomes the error SQLAlchemy
would have raised (so the same mapping to service errors applies), and a connection it left
closed or broken is invalidated, as SQLAlchemy does after a disconnect.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, UpdateBase

# The one dialect every statement here is compiled for (psycopg on PostgreSQL).
_PSYCOPG = PGDialectAsync_psycopg()  # type: ignore[no-untyped-call]


def _needs_sqlalchemy(compiled: SQLCompiler, columns: Iterable[Any] = ()) -> bool:
    """Whether only SQLAlchemy can run a compiled statement: it renders some parameters at
    execution (an expanding IN), renames them (a column name psycopg's placeholders cannot
    hold), computes defaults in Python, or converts bound or read values."""
    if compiled.post_compile_params or compiled.literal_execute_params:
        return True
    if compiled.escaped_bind_names:
        return True
    if compiled.insert_prefetch or compiled.update_prefetch:
        return True
    binds = (bind.type.dialect_impl(_PSYCOPG) for bind in compiled.binds.values())
    reads = (column.type.dialect_impl(_PSYCOPG) for column in columns)
    return any(t.bind_processor(_PSYCOPG) for t in binds) or any(
        t.result_processor(_PSYCOPG, None) for t in reads
    )


def listened(conn: AsyncConnection | AsyncEngine) -> bool:
    """Whether anything listens to the engine's statements (tracing): then SQLAlchemy must run
    them, so the listeners see them."""
    return bool(conn.sync_engine.dispatch.before_cursor_execute)


def as_sqlalchemy_error(
    error: psycopg.Error,
    conn: AsyncConnection,
    sql: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    invalidated: bool = False,
) -> DBAPIError:
    """A driver error as SQLAlchemy would have raised it, so one mapping to service errors
    serves both (parameters hidden: they hold personal data)."""
    wrapped = DBAPIError.instance(
        sql,
        params,
        error,
        psycopg.Error,
        hide_parameters=True,
        connection_invalidated=invalidated,
        dialect=conn.dialect,
    )
    assert isinstance(wrapped, DBAPIError)
    return wrapped


def driver_of(conn: AsyncConnection) -> "psycopg.AsyncConnection[Any] | None":
    """The psycopg connection under `conn` when statements may run on it directly."""
    sync = conn.sync_connection
    if conn.dialect.name != "postgresql" or sync is None or sync.invalidated or listened(conn):
        return None
    driver: psycopg.AsyncConnection[Any] = sync.connection.driver_connection  # type: ignore[assignment]
    return driver


class DriverStatement:
    """A SELECT compiled once for PostgreSQL (psycopg), run on the driver on PostgreSQL."""

    def __init__(self, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=_PSYCOPG)
        if _needs_sqlalchemy(compiled, statement.selected_columns):
            raise ValueError("the statement needs SQLAlchemy's conversions or expansions")
        self.statement = statement
        self.sql = compiled.string
        # The statement's own values (literals SQLAlchemy renders as parameters).
        values = compiled.construct_params(_check=False)
        self._fixed = {k: v for k, v in values.items() if not compiled.binds[k].required}

    async def rows(
        self, conn: AsyncConnection, params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        driver = driver_of(conn)
        if driver is None:
            result = await conn.execute(self.statement, params)
            through_sqlalchemy: Sequence[Sequence[Any]] = result.all()
            return through_sqlalchemy
        return await self.direct_rows(driver.cursor(), conn, params)

    async def direct_rows(
        self,
        cursor: "psycopg.AsyncCursor[Any]",
        conn: AsyncConnection,
        params: Mapping[str, Any],
    ) -> Sequence[Sequence[Any]]:
        """The rows on `cursor`, of the psycopg connection under `conn` that `driver_of` gave
        (a cursor its caller may reuse: statements on one connection run one at a time)."""
        if self._fixed:
            params = {**self._fixed, **params}
        try:
            await cursor.execute(self.sql, params)
            rows: list[Any] = await cursor.fetchall()
            return rows
        except psycopg.Error as error:
            driver = cursor.connection
            lost = driver.closed or driver.broken
            if lost:
                await conn.invalidate()
            raise as_sqlalchemy_error(error, conn, self.sql, params, invalidated=lost) from error


# Compiled once per statement and parameter names (the columns an INSERT lists depend on them);
# the statements are the repositories' module constants, so the caches stay small.
@functools.cache
def write_sql(statement: UpdateBase, keys: tuple[str, ...]) -> str | None:
    """A blind write's SQL for psycopg with parameters named `keys`, compiled once; None where
    SQLAlchemy must run it (its types convert values, or it computes defaults in Python)."""
    compiled = statement.compile(dialect=_PSYCOPG, column_keys=list(keys))
    direct = set(compiled.binds) == set(keys) and not _needs_sqlalchemy(compiled)
    return compiled.string if direct else None


@functools.cache
def one_statement(
    writes: tuple[tuple[UpdateBase, tuple[str, ...]], ...], copies: int = 1
) -> str | None:
    """Blind INSERTs as one statement for psycopg, compiled once: each but the last a
    data-modifying CTE of the last, `copies` rows each (one per unit of work committing together,
    platform/db/group_commit.py), write i's parameters named `w<i>_<name>` in the first row and
    `r<j>w<i>_<name>` in row j after it (`one_statement_params`). None where they cannot be
    one: a write that is no INSERT, two INSERTs into one table (a statement's CTEs run in no
    specified order, so their rows' sequence numbers could come out of the order they were
    written in), or one that SQLAlchemy must run."""
    tables = {write.table for write, _ in writes if isinstance(write, Insert)}
    if not writes or len(tables) < len(writes) or not all(write_sql(w, k) for w, k in writes):
        return None
    parts = [
        write.values(  # type: ignore[attr-defined]
            [{key: bindparam(_name(i, j, key)) for key in keys} for j in range(copies)]
        )
        for i, (write, keys) in enumerate(writes)
    ]
    ctes = [part.cte(f"w{i}") for i, part in enumerate(parts[:-1])]
    compiled = parts[-1].add_cte(*ctes).compile(dialect=_PSYCOPG)
    # On one line (SQLAlchemy breaks lines around a CTE; the statement holds no literals).
    return None if _needs_sqlalchemy(compiled) else " ".join(compiled.string.split())


def _name(write: int, row: int, key: str) -> str:
    return f"w{write}_{key}" if row == 0 else f"r{row}w{write}_{key}"


def one_statement_params(*copies: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of `one_statement` from each copy's writes' own, in the rows' order."""
    return {
        _name(i, j, key): value
        for j, writes in enumerate(copies)
        for i, each in enumerate(writes)
        for key, value in each.items()
    }
