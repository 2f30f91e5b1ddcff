"""Billing's SQLAlchemy unit of work: the platform's transaction with billing's repositories."""

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.billing.adapters.db.repository import (
    MessageEncoder,
    SqlAccountRepository,
    SqlOutbox,
    SqlReservationRepository,
)
from usersuite.billing.service.unit_of_work import UnitOfWork
from usersuite.platform.db.unit_of_work import SqlTransaction


class SqlUnitOfWork(SqlTransaction, UnitOfWork):
    def __init__(
        self,
        engine: AsyncEngine | None,
        encode: MessageEncoder,
        *,
        read_only: bool = False,
        joining: AsyncConnection | None = None,
    ) -> None:
        super().__init__(engine, read_only=read_only, joining=joining)
        self._encode = encode

    @classmethod
    def joined(cls, conn: AsyncConnection, encode: MessageEncoder) -> "SqlUnitOfWork":
        return cls(None, encode, joining=conn)

    def _bind(self, conn: AsyncConnection) -> None:
        self.accounts = SqlAccountRepository(conn)
        self.reservations = SqlReservationRepository(conn)
        self.outbox = SqlOutbox(conn, self._encode)
