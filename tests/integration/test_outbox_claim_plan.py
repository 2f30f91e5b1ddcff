"""A claim reads its batch and no more, whatever PostgreSQL's statistics of the outbox say.

The outbox is a queue: a burst of rows (a backlog after NATS was away, a bulk import) leaves
its statistics stale until the next ANALYZE. A claim planned from them once walked the primary
key through every dispatched row retention keeps, or sorted every pending row to take the
first batch: a cost that grew with the outbox, at every claim. Autovacuum is off for the
test's outbox, so the statistics are exactly the ones each case sets up.
"""

import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.nats import NatsServer
from tests.support.settings import relay_settings
from usersuite.bootstrap import bootstrap_bridge
from usersuite.platform.db import outbox_store
from usersuite.platform.db.engine import create_engine

pytestmark = pytest.mark.integration

ROWS, DISPATCHED, BATCH = 3000, 2000, 100
SEED = text("""
    INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_name,
                        aggregate_version, partition_key, payload, occurred_time)
    SELECT 'event-' || g, 'user.v1.UserCreated', 'user.v1.User', 'users/u' || g, 1, g, '\\x00',
           now()
    FROM generate_series(1, :rows) AS g
""")


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in nodes(child))]


async def claim_plan(conn: AsyncConnection, besides: list[int]) -> list[dict[str, Any]]:
    """The nodes of the claim's plan as the relay runs it, with what each read."""
    query = outbox_store._claim_query(BATCH, None, 16, "postgresql" if besides else None)
    compiled = query.compile(dialect=conn.dialect)
    params = {**compiled.params, "besides": besides}
    explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled)
    result = await conn.exec_driver_sql(explain, params)
    document = result.scalar_one()
    return nodes((document if isinstance(document, list) else json.loads(document))[0]["Plan"])


@pytest.mark.parametrize("statistics", ["never analyzed", "analyzed before the rows were relayed"])
async def test_a_claim_reads_its_batch_and_never_sorts_the_backlog(
    pg_url: str, statistics: str
) -> None:
    engine = create_engine(pg_url, session=outbox_store.RELAY_SESSION)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE outbox SET (autovacuum_enabled = false)"))
            await conn.execute(SEED, {"rows": ROWS})
        if statistics != "never analyzed":
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE outbox"))  # every row still pending
        async with engine.begin() as conn:
            # The oldest rows relayed; retention keeps them.
            dispatched = text("UPDATE outbox SET state = 'dispatched' WHERE seq <= :n")
            await conn.execute(dispatched, {"n": DISPATCHED})
        async with engine.connect() as conn, conn.begin():
            first = await outbox_store.claim_pending(conn, BATCH, None, 16)
            assert [row.seq for row in first] == list(range(DISPATCHED + 1, DISPATCHED + 101))
            for besides in ([], [row.seq for row in first]):
                plan = await claim_plan(conn, besides)
                assert not [node for node in plan if node["Node Type"] == "Sort"], plan
                scans = [node for node in plan if node.get("Relation Name") == "outbox"]
                read = sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in scans)
                # The batch, and the rows this transaction claimed before it; not the
                # dispatched rows, nor every pending one.
                assert read <= BATCH + len(besides), plan
    finally:
        await engine.dispose()


async def test_the_bridges_sessions_plan_as_the_claim_needs(
    pg_url: str, nats_server: NatsServer
) -> None:
    container = await bootstrap_bridge(relay_settings(pg_url, nats_server.url))
    try:
        async with container.engine.connect() as conn:
            for name, value in outbox_store.RELAY_SESSION.items():
                assert (await conn.execute(text(f"SHOW {name}"))).scalar_one() == value
            # The settings every session has stay beside them.
            assert (await conn.execute(text("SHOW TimeZone"))).scalar_one() == "UTC"
    finally:
        await container.close()
