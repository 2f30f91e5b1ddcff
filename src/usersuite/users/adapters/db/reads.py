"""GetUser's point reads, coalesced: one query answers every read that waited for it."""

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.db.coalescing import Coalescer
from usersuite.platform.db.held import HeldReader
from usersuite.platform.db.unit_of_work import SqlTransaction
from usersuite.platform.service.unit_of_work import UnitOfWorkBase
from usersuite.users.adapters.db.repository import USER_COLUMNS, user_from_row
from usersuite.users.adapters.db.tables import users
from usersuite.users.domain.model import User
from usersuite.users.service.unit_of_work import UserReads

# One statement per dialect: PostgreSQL takes the ids as one array (one statement text whatever
# their number, so psycopg prepares it once); SQLite expands them into a list of parameters.
_GET_USERS_ANY = select(*USER_COLUMNS).where(users.c.id == bindparam("ids").any_())
_GET_USERS_IN = select(*USER_COLUMNS).where(users.c.id.in_(bindparam("ids", expanding=True)))


class _Reading(SqlTransaction, UnitOfWorkBase):
    """A read-only connection (no transaction on PostgreSQL) with the platform's error mapping."""

    conn: AsyncConnection

    def _bind(self, conn: AsyncConnection) -> None:
        self.conn = conn


class CoalescedUserReads(UserReads):
    """On PostgreSQL the queries run on held connections (platform/db/held.py); elsewhere each
    in a read-only unit of work. `close()` before the engine is disposed."""

    def __init__(self, engine: AsyncEngine, *, in_flight: int = 1) -> None:
        self._engine = engine
        postgres = engine.dialect.name == "postgresql"
        self._held = HeldReader(engine, _GET_USERS_ANY) if postgres else None
        self._coalescer: Coalescer[str, User] = Coalescer(self._fetch, in_flight=in_flight)

    @property
    def queries(self) -> int:
        """How many queries have answered reads so far."""
        return self._coalescer.queries

    @property
    def waiting(self) -> int:
        """How many reads wait for the next query to start."""
        return self._coalescer.waiting

    async def get(self, user_id: str) -> User | None:
        return await self._coalescer.get(user_id)

    async def close(self) -> None:
        if self._held is not None:
            await self._held.close()

    async def _fetch(self, user_ids: Sequence[str]) -> dict[str, User]:
        params = {"ids": list(user_ids)}
        if self._held is not None:
            rows = await self._held.rows(params)
            return {user.id: user for user in map(user_from_row, rows)}
        async with _Reading(self._engine, read_only=True) as reading:
            result = await reading.conn.execute(_GET_USERS_IN, params)
            return {user.id: user for user in map(user_from_row, result)}
