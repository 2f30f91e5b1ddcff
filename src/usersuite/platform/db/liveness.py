"""Pings a pooled PostgreSQL connection before use only when it lay idle long enough to die unseen.

SQLAlchemy's `pool_pre_ping` pays one round trip on every checkout: under load that doubled a
GetUser's round trips. A connection handed back a moment ago is as alive as the ping would
prove; one that lay idle (a restarted or failed-over server, a proxy's idle cut) is pinged
first, and a dead one is replaced before the call sees it. With the pool handing out the most
recently returned connection first (LIFO), a busy pool keeps reusing warm connections and only
the idle tail is pinged. A server lost in the middle of a burst still fails the calls that meet
it, as it would with pre-ping (the server can go between ping and statement too): those calls
get UNAVAILABLE with a retry delay, and SQLAlchemy then discards every older pooled connection.
"""

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

# Longer than the gap between calls on a busy pool, far shorter than any idle cut-off.
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED = "usersuite_returned_at"


def ping_after_idle(engine: AsyncEngine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Installs the checkout ping on `engine`'s pool."""
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        # Never returned yet: connected for this very checkout, nothing to prove.
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool's documented signal: discard this connection, check out a new one.
                raise exc.DisconnectionError() from error
            raise
