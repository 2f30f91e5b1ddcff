"""A second claim in the same transaction: the rows claimed already are left out by their ids."""

from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from usersuite.platform.db import outbox_store
from usersuite.platform.db.tables import outbox


def values(user: str, version: int) -> dict[str, object]:
    return {
        "event_id": f"{user}-{version}", "event_type": "user.v1.UserUpdated",
        "aggregate_type": "user.v1.User", "aggregate_name": user, "aggregate_version": version,
        "payload": b"x", "occurred_time": datetime(2026, 12, 6, tzinfo=UTC),
    }  # fmt: skip


async def test_a_second_claim_leaves_out_the_first_and_keeps_commit_safe_order(
    pg_url: str,
) -> None:
    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(outbox), [values("users/a", v) for v in (1, 2, 3)])
        async with engine.connect() as conn, conn.begin():
            first = await outbox_store.claim_pending(conn, 2, None, 16)
            # Its own row locks would not make SKIP LOCKED pass them over: left out by id.
            second = await outbox_store.claim_pending(
                conn, 10, None, 16, besides=[row.seq for row in first]
            )
            assert [row.event_id for row in first] == ["users/a-1", "users/a-2"]
            assert [row.event_id for row in second] == ["users/a-3"]
            assert (
                await outbox_store.claim_pending(
                    conn, 10, list(range(16)), 16, besides=[r.seq for r in first + second]
                )
                == []
            )
    finally:
        await engine.dispose()
