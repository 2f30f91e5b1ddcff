"""The SQLAlchemy unit of work every service builds on: one connection, one transaction."""

# A service's unit of work binds its repositories to the connection (`_bind`). A read-only one
# runs without a transaction on PostgreSQL: each read is one statement, which sees one consistent
# snapshot, and no BEGIN or ROLLBACK travels. One `joining` a connection (a consumer's handler,
# inside the transaction that records the inbox row) leaves beginning, committing and closing to
# the connection's owner, so the effect commits together with whatever else the owner writes.

from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from usersuite.platform.db.availability import is_unavailable, service_error
from usersuite.platform.db.group_commit import GroupCommit
from usersuite.platform.db.pipeline import DeferredWrites
from usersuite.platform.db.statement_timeout import bound_by_deadline, forget
from usersuite.platform.service.errors import ServiceUnavailable


class SqlTransaction:
    # A service whose repositories defer their blind writes (platform/db/pipeline.py) sets this:
    # its commit then sends them with the COMMIT in one round trip on PostgreSQL. Its units of
    # work also connect lazily there, at the first statement that needs the connection (its
    # repositories are bound to the writes, `_bind_writes`): a create that runs none but its
    # writes commits them through the group commit, if it has one
    # (platform/db/group_commit.py), on no connection of its own.
    pipelines_writes = False

    def __init__(
        self,
        engine: AsyncEngine | None,
        *,
        read_only: bool = False,
        joining: AsyncConnection | None = None,
        group: GroupCommit | None = None,
    ) -> None:
        if (engine is None) == (joining is None):
            raise ValueError("a unit of work needs an engine or a connection to join, not both")
        self._engine = engine
        self._read_only = read_only
        self._joined = joining
        self._group = group
        self._committed = False
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._writes: DeferredWrites | None = None

    def _bind(self, conn: AsyncConnection) -> None:
        """Binds the service's repositories to `conn` (and `self.writes`)."""
        raise NotImplementedError

    def _bind_writes(self) -> None:
        """Where the service pipelines writes: binds its repositories to `self.writes` alone,
        whose `connection()` gives them the connection (opened at the first that needs it)."""
        raise NotImplementedError

    @property
    def writes(self) -> DeferredWrites:
        """The transaction's blind writes: deferred to the commit where the service opts in."""
        assert self._writes is not None, "bound only inside the unit of work"
        return self._writes

    async def __aenter__(self) -> Self:
        if self._joined is not None:
            # The owner of the connection commits: nothing may wait for a commit of ours.
            self._writes = DeferredWrites(self._joined, deferring=False)
            self._bind_to(self._joined)
            return self
        assert self._engine is not None
        lazily = self.pipelines_writes and not self._read_only
        if lazily and self._engine.dialect.name == "postgresql":
            self._writes = DeferredWrites(None, connect=self._connect)
            self._bind_writes()
            return self
        conn = await self._connect()
        self._writes = DeferredWrites(conn, deferring=False)
        self._bind_to(conn)
        return self

    def _bind_to(self, conn: AsyncConnection) -> None:
        if self.pipelines_writes:
            self._bind_writes()
        else:
            self._bind(conn)

    async def _connect(self) -> AsyncConnection:
        """Checks a connection out, begins (or, read-only on PostgreSQL, runs in autocommit)
        and bounds its statements by the call's deadline."""
        assert self._engine is not None
        try:
            conn = self._conn = await self._engine.connect()
            if not self._read_only:
                self._tx = await conn.begin()
            elif conn.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            await bound_by_deadline(conn)
        except Exception as exc:
            await self._close()
            if is_unavailable(exc):
                raise ServiceUnavailable("the database is unavailable") from exc
            raise
        return conn

    async def end(self, error: BaseException | None) -> None:
        """Rolls back, closes, and turns database trouble into the service's errors."""
        if self._joined is not None:
            return  # the owner of the connection ends its transaction and sees the error
        try:
            await self.rollback()
        except Exception:  # noqa: S110 - the connection is gone; the original error matters
            pass
        finally:
            await self._close()
        mapped = None if error is None else service_error(error)
        if mapped is not None:
            raise mapped from error

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        if self._joined is not None:
            return  # committed with the owner's transaction
        if self._conn is None:
            # Connecting lazily, and nothing but deferred writes ran: they may share a
            # statement with other units of work committing now (none waiting: nothing to do).
            pending = self.writes.pending
            if not pending or (self._group is not None and await self._group.commit(pending)):
                self.writes.discard()
                self._committed = True
                return
            await self.writes.connected()
        if self._tx is not None and self._tx.is_active:
            assert self._writes is not None
            await self._writes.commit(self._tx)
            self._committed = True

    async def rollback(self) -> None:
        if self._writes is not None:
            self._writes.discard()
        if self._tx is not None and self._tx.is_active:
            await self._tx.rollback()

    async def _close(self) -> None:
        if self._conn is not None:
            if self._tx is not None and not self._committed:
                # Rolled back (or it failed): a timeout set inside it is undone too.
                forget(self._conn)
            try:
                await self._conn.close()
            finally:
                self._conn = None
                self._tx = None
