"""Waiting on conditions instead of fixed sleeps: until something holds, or that it keeps holding.

Tests never sleep for a fixed time to let something happen: they poll the condition with a
deadline (`eventually`), so a fast machine finishes early and a slow one gets the whole deadline.
Proving that something did *not* happen is the one place a window is unavoidable; every such
proof goes through `stays_true_for`, whose short window is documented here once.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

Check = Callable[[], Awaitable[bool]]

POLL_SECONDS = 0.05
DEADLINE_SECONDS = 30.0
# How long a condition must keep holding to count as "this does not happen": long enough for
# several poll and relay rounds of the short intervals tests configure (0.05 to 0.2 s), short
# enough not to slow the suite. A regression shows within it on every run.
QUIET_WINDOW_SECONDS = 1.0


async def eventually(
    check: Check, within: float = DEADLINE_SECONDS, what: str = "condition"
) -> None:
    """Polls `check` until it returns true; TimeoutError after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


async def stays_true_for(
    check: Check, window: float = QUIET_WINDOW_SECONDS, what: str = "condition"
) -> None:
    """Polls `check` for `window` seconds; AssertionError as soon as it returns false."""
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        assert await check(), f"no longer true: {what}"
        await asyncio.sleep(POLL_SECONDS)
    assert await check(), f"no longer true: {what}"


def holds(value: Callable[[], bool]) -> Check:
    """A synchronous predicate as a check for `eventually` and `stays_true_for`."""

    async def check() -> bool:
        return value()

    return check
