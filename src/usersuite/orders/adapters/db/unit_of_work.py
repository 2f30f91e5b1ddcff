"""The orders service's SQLAlchemy unit of work: its own transaction, or a caller's."""

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
from usersuite.platform.db.unit_of_work import SqlTransaction


class SqlUnitOfWork(SqlTransaction, UnitOfWork):
    def __init__(
        self,
        engine: AsyncEngine | None,
        encode: MessageEncoder,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
        joining: AsyncConnection | None = None,
    ) -> None:
        super().__init__(engine, read_only=read_only, joining=joining)
        self._encode = encode
        self._clock = clock

    @classmethod
    def joined(
        cls, conn: AsyncConnection, encode: MessageEncoder, clock: Callable[[], datetime]
    ) -> "SqlUnitOfWork":
        """Works in a transaction someone else owns (the consumer's, with its inbox row)."""
        return cls(None, encode, clock, joining=conn)

    def _bind(self, conn: AsyncConnection) -> None:
        self.orders = SqlOrderRepository(conn)
        self.sagas = SqlSagaRepository(conn, self._clock)
        self.outbox = SqlOutbox(conn, self._encode)
        self.idempotency = SqlIdempotencyStore(conn, self._clock)
