"""The users service's SQLAlchemy unit of work: the platform's transaction, users' repositories."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.db.unit_of_work import SqlTransaction
from usersuite.users.adapters.db.repository import (
    EventEncoder,
    SqlIdempotencyStore,
    SqlOutbox,
    SqlUserRepository,
)
from usersuite.users.service.unit_of_work import UnitOfWork


class SqlUnitOfWork(SqlTransaction, UnitOfWork):
    # CreateUser's user, outbox and request rows travel with BEGIN and COMMIT in one round trip.
    pipelines_writes = True

    def __init__(
        self,
        engine: AsyncEngine,
        encode: EventEncoder,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
    ) -> None:
        super().__init__(engine, read_only=read_only)
        self._encode = encode
        self._clock = clock

    def _bind(self, conn: AsyncConnection) -> None:
        self.users = SqlUserRepository(conn, self.writes)
        self.outbox = SqlOutbox(self.writes, self._encode)
        self.idempotency = SqlIdempotencyStore(conn, self.writes, self._clock)
