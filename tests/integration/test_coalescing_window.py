"""GetUser's coalescing window on a real server and PostgreSQL: a lone caller's reads wait for
nothing; once calls have shared a query, a read waits for as many as that query answered, and so
do the reads left waiting when a query ends. The window is a minute, so only those rules can
start a query: a read that waited for the window would fail its call's deadline instead of
passing."""

import asyncio

import grpc
import pytest
from sqlalchemy import text

from tests.support.postgres import until_waiting_for_lock
from tests.support.serving import serving
from tests.support.stubs import AsyncUserStub, create
from tests.support.waiting import eventually
from user.v1 import user_pb2
from usersuite.platform.db import coalescing
from usersuite.users.adapters.db.reads import SqlUserReads

WINDOW = 60.0  # the most the settings allow
# Far below the window: a read that waited for it fails the call rather than stall the test.
CALL_DEADLINE = 30.0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_reads_wait_for_company_only_after_calls_shared_a_query(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What calls shared stays recent for the whole test: the test decides, not the clock.
    monkeypatch.setattr(coalescing, "PEAK_PERIOD_SECONDS", 3600.0)
    database = {"health_interval_seconds": 0.2, "coalesce_window_seconds": WINDOW}
    async with (
        serving(db_url, database=database) as running,
        grpc.aio.insecure_channel(running.target) as channel,
    ):
        stub = AsyncUserStub(channel)
        ada = await create(stub)
        reads = running.container.holders[0]
        assert isinstance(reads, SqlUserReads)

        def get() -> "asyncio.Future[user_pb2.User]":
            request = user_pb2.GetUserRequest(name=ada.name)
            return asyncio.ensure_future(stub.GetUser(request, timeout=CALL_DEADLINE))

        async def waiting(count: int) -> bool:
            return reads.waiting == count

        # One call at a time: each read queries at once.
        queries = reads.queries
        for _ in range(3):
            assert (await get()).name == ada.name
        assert reads.queries == queries + 3

        # Two calls share a query: the first call's query is held at the test's lock meanwhile.
        async with running.container.engine.connect() as holder:
            await holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            first = get()
            await until_waiting_for_lock(db_url, "%FROM users%", "the first read at the lock")
            pair = [get(), get()]
            await eventually(lambda: waiting(2), within=10, what="two reads behind it")
            await holder.rollback()
        assert [user.name for user in await asyncio.gather(first, *pair)] == [ada.name] * 3
        assert reads.queries == queries + 5

        # Now a read waits for company: as many reads as that query answered.
        lone = get()
        await eventually(lambda: waiting(1), within=10, what="a read waiting for company")
        assert reads.queries == queries + 5
        assert not lone.done()
        company = get()
        assert [user.name for user in await asyncio.gather(lone, company)] == [ada.name] * 2
        assert reads.queries == queries + 6

        # Reads left waiting when a query ends wait for company too: two share a query held at
        # the lock and one waits behind it; once that query ends, the one left waits for a
        # second read instead of querying alone.
        async with running.container.engine.connect() as holder:
            await holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
            pair = [get(), get()]
            await until_waiting_for_lock(db_url, "%FROM users%", "the pair's read at the lock")
            behind = get()
            await eventually(lambda: waiting(1), within=10, what="a read behind the query")
            await holder.rollback()
        assert [user.name for user in await asyncio.gather(*pair)] == [ada.name] * 2
        assert reads.queries == queries + 7
        assert reads.waiting == 1
        assert not behind.done()
        partner = get()
        assert [user.name for user in await asyncio.gather(behind, partner)] == [ada.name] * 2
        assert reads.queries == queries + 8
