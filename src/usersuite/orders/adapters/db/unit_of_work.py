"""The orders service's SQLAlchemy units of work: its own transaction, or a caller's."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.orders.adapters.db.repository import (
    MessageEncoder,
    SqlIdempotencyStore,
    SqlOrderRepository,
    SqlOutbox,
    SqlSagaRepository,
)
from usersuite.orders.service.unit_of_work import UnitOfWork
from usersuite.platform.db.transaction import SqlTransaction


def _bind(uow: UnitOfWork, conn: AsyncConnection, encode: MessageEncoder,
          clock: Callable[[], datetime]) -> None:  # fmt: skip
    uow.orders = SqlOrderRepository(conn)
    uow.sagas = SqlSagaRepository(conn, clock)
    uow.outbox = SqlOutbox(conn, encode)
    uow.idempotency = SqlIdempotencyStore(conn, clock)


class SqlUnitOfWork(SqlTransaction, UnitOfWork):
    def __init__(
        self,
        engine: AsyncEngine,
        encode: MessageEncoder,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
    ) -> None:
        super().__init__(engine, read_only=read_only)
        self._encode = encode
        self._clock = clock

    def _bind(self, conn: AsyncConnection) -> None:
        _bind(self, conn, self._encode, self._clock)


class JoinedUnitOfWork(UnitOfWork):
    """Works in a transaction someone else owns (the consumer's, with its inbox row): its
    commit and rollback are the owner's to do, and an error rolls the owner back."""

    def __init__(
        self, conn: AsyncConnection, encode: MessageEncoder, clock: Callable[[], datetime]
    ) -> None:
        _bind(self, conn, encode, clock)

    async def end(self, error: BaseException | None) -> None:
        pass

    async def commit(self) -> None:
        pass

    async def rollback(self) -> None:
        pass
