"""Builds the async engine for a database URL; called by bootstrap, never at import time."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from usersuite.platform.db.liveness import PING_AFTER_IDLE_SECONDS, ping_after_idle

# A peer that vanishes (host lost, network cut) is noticed within about 25 s on both ends:
# the client's libpq keepalives and user timeout, and the server's keepalives for our
# session, which ends it and frees its advisory locks (a relay's partitions) in that time.
KEEPALIVE_SECONDS = {"idle": 10, "interval": 5, "count": 3}
KEEPALIVE_ARGS = {
    "keepalives": 1,
    "keepalives_idle": KEEPALIVE_SECONDS["idle"],
    "keepalives_interval": KEEPALIVE_SECONDS["interval"],
    "keepalives_count": KEEPALIVE_SECONDS["count"],
    "tcp_user_timeout": 25_000,
}
# Every time we store is UTC: sessions in UTC hand them back as such (psycopg then gives
# datetime.UTC itself, and nothing converts each value read from the server's own zone).
SESSION = {
    **{f"tcp_keepalives_{k}": str(v) for k, v in KEEPALIVE_SECONDS.items()},
    "TimeZone": "UTC",
}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 5,
    pool_timeout: float = 5.0,
    connect_timeout: float = 5.0,
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
    session: Mapping[str, str] | None = None,
) -> AsyncEngine:
    """`session`: PostgreSQL settings every session of the engine starts with."""
    if is_sqlite(url):
        # SQLite allows one writer; one pooled connection serialises our transactions in
        # process instead of failing them with "database is locked".
        engine = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            hide_parameters=True,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # The warmest connection first, so a busy pool never needs the idle ping (liveness.py).
        pool_use_lifo=True,
        # Statement parameters hold personal data (emails, names): keep them out of errors/logs.
        hide_parameters=True,
        connect_args={
            "connect_timeout": max(1, int(connect_timeout)),
            **KEEPALIVE_ARGS,
            "options": " ".join(f"-c {k}={v}" for k, v in {**SESSION, **(session or {})}.items()),
        },
    )
    ping_after_idle(engine, ping_after_idle_seconds)
    return engine


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)
