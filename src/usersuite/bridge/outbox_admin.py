"""`usersuite outbox list|retry`: inspect outbox rows and re-queue parked ones."""

from typing import TextIO

from usersuite.config import Settings


async def list_outbox(settings: Settings, *, state: str | None, limit: int, out: TextIO) -> int:
    raise NotImplementedError


async def retry_parked(settings: Settings, *, event_ids: list[str] | None, out: TextIO) -> int:
    raise NotImplementedError
