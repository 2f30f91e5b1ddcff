"""Request-signing nonces in PostgreSQL, so that a signed call is accepted by one replica only."""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from usersuite.platform.db.availability import is_unavailable
from usersuite.platform.db.tables import signing_nonces
from usersuite.platform.service.errors import ServiceUnavailable

log = logging.getLogger(__name__)
PURGE_BATCH = 1000


def _at(unix_seconds: float) -> datetime:
    return datetime.fromtimestamp(unix_seconds, UTC)


class SqlNonceStore:
    """Insert-if-absent with an expiry; expired nonces are purged in small batches."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        purge_interval_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._purge_interval = purge_interval_seconds
        self._clock = clock
        self._purged_at = clock()
        self._purging: asyncio.Task[None] | None = None

    async def claim(self, key_id: str, nonce: str, expires_at: float) -> bool:
        """True when no replica has accepted this (key id, nonce) while it is still live."""
        now = _at(self._clock())
        row = insert(signing_nonces).values(key_id=key_id, nonce=nonce, expire_time=_at(expires_at))
        # An expired row is as good as absent: its timestamp cannot be accepted anymore.
        statement = row.on_conflict_do_update(
            index_elements=[signing_nonces.c.key_id, signing_nonces.c.nonce],
            set_={"expire_time": row.excluded.expire_time},
            where=signing_nonces.c.expire_time < now,
        ).returning(signing_nonces.c.nonce)
        try:
            async with self._engine.begin() as conn:
                claimed = (await conn.execute(statement)).first() is not None
        except Exception as exc:
            if is_unavailable(exc):
                raise ServiceUnavailable("the database is unavailable") from exc
            raise
        await self._purge_now_and_then()
        return claimed

    async def _purge_now_and_then(self) -> None:
        """Starts a purge in the background at most every purge interval."""
        if self._clock() - self._purged_at < self._purge_interval:
            return
        if self._purging is None or self._purging.done():
            self._purged_at = self._clock()
            self._purging = asyncio.create_task(self._purge_logged(), name="nonce-purge")

    async def _purge_logged(self) -> None:
        try:
            purged = await self.purge()
        except Exception as exc:  # housekeeping only; the next round tries again
            log.warning("could not purge expired signing nonces: %s", type(exc).__name__)
            return
        if purged:
            log.info("purged %d expired signing nonces", purged)

    async def purge(self) -> int:
        """Deletes expired nonces, PURGE_BATCH per transaction; returns how many."""
        total = 0
        key = tuple_(signing_nonces.c.key_id, signing_nonces.c.nonce)
        while True:
            victims = (
                select(signing_nonces.c.key_id, signing_nonces.c.nonce)
                .where(signing_nonces.c.expire_time < _at(self._clock()))
                .limit(PURGE_BATCH)
            )
            async with self._engine.begin() as conn:
                deleted = (
                    await conn.execute(delete(signing_nonces).where(key.in_(victims)))
                ).rowcount
            total += deleted
            if deleted < PURGE_BATCH:
                return total

    async def close(self) -> None:
        if self._purging is not None:
            self._purging.cancel()
            await asyncio.gather(self._purging, return_exceptions=True)
            self._purging = None
