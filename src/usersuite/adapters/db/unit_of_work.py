"""The SQLAlchemy unit of work: one connection, one transaction, repositories bound to it."""

import time
from collections.abc import Callable
from datetime import datetime
from typing import Self

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from usersuite.adapters.db.repository import (
    EventEncoder,
    SqlIdempotencyStore,
    SqlOutbox,
    SqlUserRepository,
)
from usersuite.domain.errors import FieldViolation, ValidationFailed
from usersuite.service import request_context
from usersuite.service.errors import DeadlineExceeded, ServiceUnavailable
from usersuite.service.unit_of_work import UnitOfWork

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout or a cancel request.
QUERY_CANCELED = "57014"


def is_data_error(exc: BaseException) -> bool:
    """PostgreSQL's class 22: a value the column cannot hold (too long, NUL byte, ...)."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return isinstance(exc, DBAPIError) and sqlstate.startswith("22")


def is_cancelled_by_deadline(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED


def is_unavailable(exc: BaseException) -> bool:
    """Whether the database could not be reached or answered (as opposed to a bug)."""
    if isinstance(exc, IntegrityError) or is_cancelled_by_deadline(exc) or is_data_error(exc):
        return False
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, OSError)


class SqlUnitOfWork(UnitOfWork):
    def __init__(
        self, engine: AsyncEngine, encode: EventEncoder, clock: Callable[[], datetime]
    ) -> None:
        self._engine = engine
        self._encode = encode
        self._clock = clock
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self._engine.connect()
            self._tx = await self._conn.begin()
            await self._bound_by_deadline(self._conn)
        except Exception as exc:
            await self._close()
            if is_unavailable(exc):
                raise ServiceUnavailable("the database is unavailable") from exc
            raise
        self.users = SqlUserRepository(self._conn)
        self.outbox = SqlOutbox(self._conn, self._encode)
        self.idempotency = SqlIdempotencyStore(self._conn, self._clock)
        return self

    async def end(self, error: BaseException | None) -> None:
        """Rolls back, closes, and turns database trouble into the service's errors."""
        try:
            await self.rollback()
        except Exception:  # noqa: S110 - the connection is gone; the original error matters
            pass
        finally:
            await self._close()
        if error is not None and is_unavailable(error):
            raise ServiceUnavailable("the database is unavailable") from error
        if error is not None and is_data_error(error):
            # Validation should have refused the value first; never let it become INTERNAL.
            violation = FieldViolation(
                "request", "a value cannot be stored (malformed or too long)"
            )
            raise ValidationFailed([violation]) from error
        if error is not None and is_cancelled_by_deadline(error):
            raise DeadlineExceeded(
                "the database work did not finish before the deadline"
            ) from error

    @staticmethod
    async def _bound_by_deadline(conn: AsyncConnection) -> None:
        """On PostgreSQL, every statement of the transaction ends when the call's time is up."""
        deadline = request_context.deadline.get()
        if deadline is None or conn.dialect.name != "postgresql":
            return
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        # SET LOCAL takes no bind parameters; the value is an integer we computed.
        await conn.execute(text(f"SET LOCAL statement_timeout = {remaining_ms}"))

    async def commit(self) -> None:
        if self._tx is not None and self._tx.is_active:
            await self._tx.commit()

    async def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            await self._tx.rollback()

    async def _close(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close()
            finally:
                self._conn = None
                self._tx = None
