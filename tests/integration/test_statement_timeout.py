"""The deadline as statement_timeout: set when it must change, kept while it still fits."""

import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.engine import create_engine
from usersuite.platform.db.statement_timeout import SETTING, bound_by_deadline, forget
from usersuite.platform.domain.events import utc_now
from usersuite.platform.service import request_context
from usersuite.users.adapters.db.unit_of_work import SqlUnitOfWork
from usersuite.users.api.mapping import encode_event


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    built = create_engine(pg_url, pool_size=1, max_overflow=0)
    yield built
    await built.dispose()


async def bound(engine: AsyncEngine, seconds: float | None) -> tuple[str, int | None]:
    """Bounds a pooled connection by a deadline `seconds` away; (SHOW statement_timeout, ours)."""
    token = request_context.deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await bound_by_deadline(conn)
            shown = (await conn.exec_driver_sql("SHOW statement_timeout")).scalar_one()
            return str(shown), conn.info.get(SETTING)
    finally:
        request_context.deadline.reset(token)


async def test_the_timeout_is_set_below_the_deadline_and_kept_while_it_fits(
    engine: AsyncEngine,
) -> None:
    shown, ours = await bound(engine, 10.0)
    assert ours is not None
    assert 8_000 < ours <= 9_000
    assert shown == f"{ours}ms"
    # A call with a little less time left finds the session's timeout still fitting.
    assert await bound(engine, 9.8) == (shown, ours)


async def test_a_shorter_deadline_lowers_the_timeout_and_none_removes_it(
    engine: AsyncEngine,
) -> None:
    await bound(engine, 10.0)
    shown, ours = await bound(engine, 1.0)
    assert ours is not None
    assert 800 < ours <= 900
    assert shown == f"{ours}ms"
    assert await bound(engine, None) == ("0", 0)


async def test_a_much_longer_deadline_raises_the_timeout_again(engine: AsyncEngine) -> None:
    await bound(engine, 1.0)
    _, ours = await bound(engine, 30.0)
    assert ours is not None
    assert ours > 20_000


async def test_a_forgotten_setting_is_set_again(engine: AsyncEngine) -> None:
    await bound(engine, 10.0)
    async with engine.connect() as conn:
        forget(conn)
        assert SETTING not in conn.info
    _, ours = await bound(engine, 10.0)
    assert ours is not None


async def test_a_rolled_back_unit_of_work_forgets_the_timeout_set_inside_it(
    engine: AsyncEngine,
) -> None:
    token = request_context.deadline.set(time.monotonic() + 10.0)
    try:
        async with SqlUnitOfWork(engine, encode_event, utc_now):
            pass  # never committed: rolled back, and the SET inside it with it
    finally:
        request_context.deadline.reset(token)
    async with engine.connect() as conn:
        assert SETTING not in conn.info
        assert (await conn.exec_driver_sql("SHOW statement_timeout")).scalar_one() == "0"
