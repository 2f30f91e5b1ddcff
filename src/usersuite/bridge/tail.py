"""`usersuite events tail`: events from the stream, decoded to JSON lines."""

from typing import TextIO

from usersuite.config import Settings


async def tail(
    settings: Settings, *, subject: str, from_start: bool, out: TextIO, limit: int | None = None
) -> int:
    """Prints one JSON line per event until interrupted (or `limit` events); returns exit code."""
    raise NotImplementedError
