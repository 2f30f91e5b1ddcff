"""The call's deadline as PostgreSQL's statement_timeout, without a round trip on most calls.

The timeout is a setting of the connection's session, remembered beside the pooled connection.
A connection keeps it while it lies between 80% and 100% of the call's remaining time; otherwise
it is set (one round trip) to 90% of that time, so the following calls with similar deadlines
find it right. Every statement thus still ends before the call's deadline, a little early at
worst, and the common case (the default deadline) pays nothing.
"""

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usersuite.platform.service import request_context

SETTING = "usersuite_statement_timeout_ms"
REUSE_FROM = 0.8
SET_TO = 0.9


def timeout_wanted(info: Mapping[str, Any]) -> int | None:
    """The statement_timeout (ms) a session needs for the current call's deadline; None when
    the one its connection's `info` remembers will do."""
    deadline = request_context.deadline.get()
    current = info.get(SETTING)
    if deadline is None:
        return None if current == 0 else 0
    remaining = max(1, int((deadline - time.monotonic()) * 1000))
    if current and REUSE_FROM * remaining <= current <= remaining:
        return None
    return max(1, int(remaining * SET_TO))


async def bound_by_deadline(conn: AsyncConnection) -> None:
    """Bounds the connection's statements by the current call's deadline (none: no bound)."""
    if conn.dialect.name != "postgresql":
        return
    wanted = timeout_wanted(conn.info)
    if wanted is None:
        return
    # SET takes no bind parameters; the value is an integer we computed.
    await conn.exec_driver_sql(f"SET statement_timeout = {wanted}")
    conn.info[SETTING] = wanted


def forget(conn: AsyncConnection) -> None:
    """After a rollback the session is back at its earlier value, which we no longer know.

    An invalidated connection is left alone: touching its info would reconnect it here, and
    the pool replaces it with a new session (and a new, empty info) anyway.
    """
    if not conn.invalidated:
        conn.info.pop(SETTING, None)
