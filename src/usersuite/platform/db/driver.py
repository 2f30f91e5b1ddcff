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

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase


def _converts(statement: Select[Any], dialect: Dialect) -> bool:
    """Whether SQLAlchemy must run the statement: it converts values, or it renders some
    parameters only at execution (an expanding IN)."""
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return True
    binds = (bind.type.dialect_impl(dialect) for bind in compiled.binds.values())
    columns = (column.type.dialect_impl(dialect) for column in statement.selected_columns)
    return any(t.bind_processor(dialect) for t in binds) or any(
        t.result_processor(dialect, None) for t in columns
    )


class DriverStatement:
    """A SELECT compiled once for PostgreSQL (psycopg), run on the driver on PostgreSQL."""

    def __init__(self, statement: Select[Any]) -> None:
        dialect = PGDialectAsync_psycopg()  # type: ignore[no-untyped-call]
        if _converts(statement, dialect):
            raise ValueError("the statement needs SQLAlchemy's conversions or expansions")
        compiled = statement.compile(dialect=dialect)
        self.statement = statement
        self.sql = compiled.string
        # The statement's own values (literals SQLAlchemy renders as parameters).
        values = compiled.construct_params(_check=False)
        self._fixed = {k: v for k, v in values.items() if not compiled.binds[k].required}

    def driver_of(self, conn: AsyncConnection) -> "psycopg.AsyncConnection[Any] | None":
        """The psycopg connection under `conn` when the statement may run on it directly."""
        sync = conn.sync_connection
        if conn.dialect.name != "postgresql" or sync is None or sync.invalidated:
            return None
        if conn.sync_engine.dispatch.before_cursor_execute:
            return None  # listened to (tracing): through SQLAlchemy, so the listeners see it
        driver: psycopg.AsyncConnection[Any] = sync.connection.driver_connection  # type: ignore[assignment]
        return driver

    async def rows(
        self, conn: AsyncConnection, params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        driver = self.driver_of(conn)
        if driver is None:
            result = await conn.execute(self.statement, params)
            through_sqlalchemy: Sequence[Sequence[Any]] = result.all()
            return through_sqlalchemy
        if self._fixed:
            params = {**self._fixed, **params}
        try:
            cursor = await driver.execute(self.sql, params)
            rows: list[Any] = await cursor.fetchall()
            return rows
        except psycopg.Error as error:
            lost = driver.closed or driver.broken
            if lost:
                await conn.invalidate()
            raise DBAPIError.instance(
                self.sql,
                params,
                error,
                psycopg.Error,
                hide_parameters=True,
                connection_invalidated=lost,
            ) from error


# A write's SQL per statement and parameter names (the columns an INSERT lists depend on them).
_WRITES: dict[tuple[UpdateBase, tuple[str, ...]], str | None] = {}


def write_sql(statement: UpdateBase, keys: tuple[str, ...]) -> str | None:
    """A blind write's SQL for psycopg with parameters named `keys`, compiled once; None where
    SQLAlchemy must run it (its types convert values, or it computes defaults in Python)."""
    if (statement, keys) in _WRITES:
        return _WRITES[statement, keys]
    dialect = PGDialectAsync_psycopg()  # type: ignore[no-untyped-call]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    types = [bind.type.dialect_impl(dialect) for bind in compiled.binds.values()]
    direct = (
        set(compiled.binds) == set(keys)
        and not compiled.post_compile_params
        and not compiled.literal_execute_params
        and not compiled.insert_prefetch
        and not compiled.update_prefetch
        and not any(t.bind_processor(dialect) for t in types)
    )
    sql = compiled.string if direct else None
    _WRITES[statement, keys] = sql
    return sql
