"""The users service's SQLAlchemy unit of work: the platform's transaction, users' repositories."""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.group_commit import GroupCommit
from usersuite.platform.db.unit_of_work import SqlTransaction
from usersuite.users.adapters.db.repository import (
    EventEncoder,
    SqlIdempotencyStore,
    SqlOutbox,
    SqlUserRepository,
)
from usersuite.users.service.unit_of_work import UnitOfWork


class SqlUnitOfWork(SqlTransaction, UnitOfWork):
    # CreateUser's user, outbox and request rows travel with BEGIN and COMMIT in one round trip,
    # or (nothing else ran) in one statement, shared with the creates committing at the moment.
    pipelines_writes = True

    def __init__(
        self,
        engine: AsyncEngine,
        encode: EventEncoder,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
        group: GroupCommit | None = None,
    ) -> None:
        super().__init__(engine, read_only=read_only, group=group)
        self._encode = encode
        self._clock = clock

    def _bind_writes(self) -> None:
        self.users = SqlUserRepository(None, self.writes)
        self.outbox = SqlOutbox(self.writes, self._encode)
        self.idempotency = SqlIdempotencyStore(self.writes, self._clock)
