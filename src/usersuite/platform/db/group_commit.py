"""Commits that arrive together share one statement: a group commit of blind INSERTs.

A unit of work that connects lazily (platform/db/unit_of_work.py) and ran no statement but its
deferred writes (a create: its user and its event) commits them here, on no connection of its
own. Commits of the same writes that arrive while one is in flight wait, and go together: each
unit of work a row of each INSERT (`driver.one_statement` with copies), in one statement outside
a transaction block, which commits all of it or none. The batching is the reads' (Coalescer,
platform/db/coalescing.py): a lone commit runs at once, in its caller's task; under load, once
commits have lately shared statements, the next statement waits up to the window for company
(`gather_after_query`), whether the last one just ended or none was in flight.

Each caller sees what a statement of its own would have given it:
- a clash (an email taken, by a row stored before or by another row of the same statement)
  fails the shared statement whole; then each of its units of work commits alone, in its own
  task and on its own connection (`commit` returns False), so only the clashing one fails, with
  its own domain error, and the others commit. Two that clash with each other race as two
  concurrent creates always do: one of them wins;
- the shared statement is bounded by the earliest deadline among its callers; if that cuts it,
  each commits alone under its own deadline;
- a caller cancelled (its deadline passed, its client left) before its statement started is
  left out: nothing of it is written. Once its statement started it may commit, as any commit
  whose answer was lost on the way;
- the database unavailable fails every caller of the statement as unavailable.
Units of work that commit at the same moment have no order between them (a user's changes wait
for each other's row lock; a create of an id taken fails), so their rows' order in a statement,
the order they came in, takes no aggregate's order away.
"""

import asyncio
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.dml import UpdateBase

from usersuite.platform.db.coalescing import Coalescer
from usersuite.platform.db.driver import (
    as_sqlalchemy_error,
    listened,
    one_statement,
    one_statement_params,
)
from usersuite.platform.db.held import HeldConnections
from usersuite.platform.db.pipeline import Write, as_failure

# Units of work per statement: a create's two rows hold 16 parameters, so 64 of them about a
# thousand, far inside PostgreSQL's 65,535 and more than a server's concurrent calls bring.
MAX_BATCH = 64

Shape = tuple[tuple[UpdateBase, tuple[str, ...]], ...]


class _Commit:
    """One unit of work's writes, waiting to be committed; `abandoned` once its caller left."""

    __slots__ = ("abandoned", "writes")

    def __init__(self, writes: Sequence[Write]) -> None:
        self.writes = writes
        self.abandoned = False

    def params(self) -> list[Mapping[str, Any]]:
        return [params for _, params, _ in self.writes]


class GroupCommit:
    """The group commit of one engine (PostgreSQL); `window_seconds`: see Coalescer. Its
    statements run on psycopg, on a connection it holds between them (platform/db/held.py)."""

    def __init__(self, engine: AsyncEngine, *, window_seconds: float = 0.0) -> None:
        self._engine = engine
        self._window = window_seconds
        # One statement in flight at a time: one connection, held between statements.
        self._held = HeldConnections(engine, keep_idle=1)
        # Per shape of writes, found once per commit (None: they cannot share a statement).
        self._batchers: dict[Shape, Coalescer[_Commit, Exception] | None] = {}

    @property
    def statements(self) -> int:
        """How many statements have committed units of work so far."""
        return sum(batcher.queries for batcher in self._batchers.values() if batcher is not None)

    @property
    def waiting(self) -> int:
        """How many commits wait for their statement to start."""
        return sum(batcher.waiting for batcher in self._batchers.values() if batcher is not None)

    async def commit(self, writes: Sequence[Write]) -> bool:
        """Commits `writes` together with whoever commits the same writes now (True), or
        returns False where they cannot share a statement: the caller commits them itself."""
        if listened(self._engine):
            return False  # tracing listens: SQLAlchemy runs each write, so it sees them
        shape = tuple((statement, tuple(params)) for statement, params, _ in writes)
        batcher = self._batchers.get(shape, _UNSEEN)
        if batcher is _UNSEEN:
            batcher = self._batchers[shape] = self._batcher(shape)
        if batcher is None:
            return False
        commit = _Commit(writes)
        try:
            failure = await batcher.get(commit)
        except asyncio.CancelledError:
            commit.abandoned = True  # not yet sent: left out; sent: it may have committed
            raise
        if failure is _ALONE:
            return False
        if failure is not None:
            raise failure
        return True

    def _batcher(self, shape: Shape) -> Coalescer[_Commit, Exception] | None:
        """The batcher of writes of `shape` (None: they cannot share a statement)."""
        if one_statement(shape) is None:
            return None
        return Coalescer(
            functools.partial(self._run, shape),
            max_batch=MAX_BATCH,
            window_seconds=self._window,
            earliest_deadline=True,
            gather_after_query=True,
        )

    async def close(self) -> None:
        """Gives its held connection back to the pool; the process calls it before disposing
        the engine."""
        await self._held.close()

    async def _run(self, shape: Shape, commits: Sequence[_Commit]) -> dict[_Commit, Exception]:
        """Commits `commits` in one statement; returns the failures (`_ALONE`: the shared
        statement failed, commit alone). Raises, for all, where the database cannot be reached
        or the connection was lost."""
        live = [commit for commit in commits if not commit.abandoned]
        if not live:
            return {}
        sql = one_statement(shape, len(live))
        assert sql is not None, "checked for one copy; more copies compile alike"
        params = one_statement_params(*(commit.params() for commit in live))
        held = await self._held.take()
        try:
            await self._held.bound(held)
            await held.cursor.execute(sql, params)
        except psycopg.Error as exc:
            if held.driver.closed or held.driver.broken:
                await held.conn.invalidate()
                raise as_sqlalchemy_error(exc, held.conn, invalidated=True) from exc
            if len(live) == 1:
                return {live[0]: as_failure(exc, held.conn, live[0].writes)}
            # One of them (a clash, a value, the earliest deadline) failed it whole.
            return dict.fromkeys(live, _ALONE)
        finally:
            await self._held.release(held)
        return {}


class _Alone(Exception):
    """The shared statement failed: the unit of work commits alone, to learn its own outcome."""


_ALONE = _Alone()
_UNSEEN: Any = object()  # a shape not looked at yet
