"""Request-id idempotency (AIP-155) over the shared `idempotency` table."""

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.db.dialect import upsert_insert
from usersuite.platform.db.tables import idempotency


async def claim_request(
    conn: AsyncConnection, request_id: str, fingerprint: str, now: datetime
) -> tuple[str, str] | None:
    """Claims the id, or returns the earlier call's (fingerprint, response).

    A concurrent claim of the same id blocks on the primary key until the first transaction
    ends; then it either conflicts (and reads the stored result) or wins.
    """
    claimed = await conn.execute(
        upsert_insert(conn, idempotency)
        .values(request_id=request_id, fingerprint=fingerprint, create_time=now)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(idempotency.c.request_id)
    )
    if claimed.first() is not None:
        return None
    row = (
        await conn.execute(
            select(idempotency.c.fingerprint, idempotency.c.response).where(
                idempotency.c.request_id == request_id
            )
        )
    ).one()
    if row.response is None:
        raise RuntimeError(f"idempotency record {request_id} was committed without a response")
    return row.fingerprint, row.response


# Stores the response of the call that claimed the request id (`completion` gives its values).
COMPLETE_REQUEST = (
    idempotency.update()
    .where(idempotency.c.request_id == bindparam("claimed_id"))
    .values(response=bindparam("stored_response"))
)


def completion(request_id: str, response: str) -> dict[str, Any]:
    return {"claimed_id": request_id, "stored_response": response}


async def complete_request(conn: AsyncConnection, request_id: str, response: str) -> None:
    """Stores the response of the call that claimed the request id."""
    await conn.execute(COMPLETE_REQUEST, completion(request_id, response))
