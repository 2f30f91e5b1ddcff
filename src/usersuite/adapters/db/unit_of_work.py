"""The SQLAlchemy unit of work: one connection, one transaction, repositories bound to it."""

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from usersuite.adapters.db.repository import (
    EventEncoder,
    SqlIdempotencyStore,
    SqlOutbox,
    SqlUserRepository,
)
from usersuite.domain.errors import ServiceUnavailable
from usersuite.service.unit_of_work import UnitOfWork


def is_unavailable(exc: BaseException) -> bool:
    """Whether the database could not be reached or answered (as opposed to a bug)."""
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or type(exc).__name__ in (
            "OperationalError",
            "InterfaceError",
        )
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
        except Exception as exc:
            await self._close()
            if is_unavailable(exc):
                raise ServiceUnavailable("the database is unavailable") from exc
            raise
        self.users = SqlUserRepository(self._conn)
        self.outbox = SqlOutbox(self._conn, self._encode)
        self.idempotency = SqlIdempotencyStore(self._conn, self._clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        except Exception:  # noqa: S110 - the connection is gone; the original error matters
            pass
        finally:
            await self._close()
        if exc is not None and is_unavailable(exc):
            raise ServiceUnavailable("the database is unavailable") from exc

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
