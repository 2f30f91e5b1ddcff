"""The pool pings a connection only after it lay idle: a dead idle one is replaced unseen."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.engine import create_engine

IDLE = 0.2
# How long terminating a session may take; a deadline, not a pause.
WAIT_MS = 30_000


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(pg_url: str, pid: int) -> None:
    """Ends the pooled connection's session from another one, as a server restart would, and
    returns once it has ended: without a timeout pg_terminate_backend only sends the signal, and
    the next statement could still reach the session before it exits."""
    other = create_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        async with other.connect() as conn:
            ended = await conn.execute(
                text("SELECT pg_terminate_backend(:pid, :wait_ms)"),
                {"pid": pid, "wait_ms": WAIT_MS},
            )
            assert ended.scalar_one(), f"session {pid} still running after {WAIT_MS} ms"
    finally:
        await other.dispose()


async def test_a_connection_that_died_while_idle_is_replaced_before_use(
    pg_url: str,
) -> None:
    engine = create_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle_seconds=IDLE)
    try:
        first = await backend_pid(engine)
        await terminate(pg_url, first)
        await asyncio.sleep(IDLE * 2)
        assert await backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_a_connection_returned_within_the_idle_time_is_used_without_a_ping(
    pg_url: str,
) -> None:
    # The ping is skipped on a warm connection: the dead session meets the statement itself.
    engine = create_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle_seconds=3600)
    try:
        first = await backend_pid(engine)
        await terminate(pg_url, first)
        with pytest.raises(DBAPIError) as caught:
            await backend_pid(engine)
        assert caught.value.connection_invalidated
        # SQLAlchemy then discards it, and the next checkout connects anew.
        assert await backend_pid(engine) != first
    finally:
        await engine.dispose()
