"""The users service's reads: GetUser's point reads coalesced (one query answers every read that
waited for it), ListUsers' pages; on PostgreSQL both on held connections."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usersuite.platform.db.coalescing import Coalescer
from usersuite.platform.db.held import HeldReader
from usersuite.platform.db.unit_of_work import SqlTransaction
from usersuite.platform.service.unit_of_work import UnitOfWorkBase
from usersuite.users.adapters.db.repository import (
    LIST_USERS,
    USER_COLUMNS,
    user_from_row,
    users_page,
)
from usersuite.users.adapters.db.tables import users
from usersuite.users.domain.model import User
from usersuite.users.service.unit_of_work import UserReads

# One statement per dialect: PostgreSQL takes the ids as one array (one statement text whatever
# their number, so psycopg prepares it once); SQLite expands them into a list of parameters.
_GET_USERS_ANY = select(*USER_COLUMNS).where(users.c.id == bindparam("ids").any_())
_GET_USERS_IN = select(*USER_COLUMNS).where(users.c.id.in_(bindparam("ids", expanding=True)))
# A lone read (nothing else waited for the query): a plain comparison, no array to build.
_GET_USER = select(*USER_COLUMNS).where(users.c.id == bindparam("id"))


class _Reading(SqlTransaction, UnitOfWorkBase):
    """A read-only connection (no transaction on PostgreSQL) with the platform's error mapping."""

    conn: AsyncConnection

    def _bind(self, conn: AsyncConnection) -> None:
        self.conn = conn


def _held_budget(engine: AsyncEngine) -> int:
    """How many connections the reads may keep between queries: a quarter of the pool, so the
    writers keep the rest whatever the reads did before (a pool under four keeps none); and
    only while reads keep coming (platform/db/held.py gives idle ones back)."""
    return int(engine.sync_engine.pool.size()) // 4  # type: ignore[attr-defined]


class SqlUserReads(UserReads):
    """On PostgreSQL the queries run on held connections (platform/db/held.py), of which a
    quarter of the pool stay held between queries: the coalescer's (up to `in_flight`), the
    rest for pages; elsewhere each query in a read-only unit of work. `window_seconds`: see
    Coalescer. `close()` before the engine is disposed."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        in_flight: int = 1,
        window_seconds: float = 0.0,
    ) -> None:
        self._engine = engine
        self._held: HeldReader | None = None
        self._pages: HeldReader | None = None
        if engine.dialect.name == "postgresql":
            budget = _held_budget(engine)
            point_reads = min(in_flight, budget)
            self._held = HeldReader(engine, _GET_USERS_ANY, _GET_USER, keep_idle=point_reads)
            self._pages = HeldReader(engine, LIST_USERS, keep_idle=budget - point_reads)
        # Reads left waiting when a query ends gather too (up to the window): at 50 concurrent
        # calls a query otherwise answered only the ~3 reads that came during the last one
        # (bench/results/issue-18).
        self._coalescer: Coalescer[str, User] = Coalescer(
            self._fetch,
            in_flight=in_flight,
            window_seconds=window_seconds,
            gather_after_query=True,
        )

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

    async def list_after(self, cursor: int, limit: int) -> list[tuple[int, User]]:
        params = {"cursor": cursor, "limit": limit}
        return users_page(await self._rows(self._pages, LIST_USERS, params))

    async def close(self) -> None:
        for reader in (self._held, self._pages):
            if reader is not None:
                await reader.close()

    async def _fetch(self, user_ids: Sequence[str]) -> dict[str, User]:
        if len(user_ids) == 1:
            rows = await self._rows(self._held, _GET_USER, {"id": user_ids[0]}, _GET_USER)
        else:
            params = {"ids": list(user_ids)}
            rows = await self._rows(self._held, _GET_USERS_IN, params, _GET_USERS_ANY)
        return {user.id: user for user in map(user_from_row, rows)}

    async def _rows(
        self,
        held: HeldReader | None,
        elsewhere: Select[Any],
        params: dict[str, Any],
        held_statement: Select[Any] | None = None,
    ) -> Sequence[Sequence[Any]]:
        """On the held reader's connections (PostgreSQL: `held_statement`, or the reader's
        first), or `elsewhere` in a read-only unit of work of its own."""
        if held is not None:
            return await held.rows(params, held_statement)
        async with _Reading(self._engine, read_only=True) as reading:
            rows: Sequence[Sequence[Any]] = (await reading.conn.execute(elsewhere, params)).all()
            return rows
