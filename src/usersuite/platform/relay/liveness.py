"""Liveness of the relay loop: alive while it makes progress or says what it is waiting for.

The loop calls `progress()` after every round and wraps each wait it knows to be normal (NATS
down, standing by, a back-off) in `waiting(reason)`. A loop stuck anywhere else (a hung socket,
a deadlock, a bug that spins on one await) stops doing either, and once `stall_seconds` pass
`/healthz` fails, so the orchestrator restarts the process. Read from the ops HTTP thread:
only plain attributes are shared, no event-loop objects.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Liveness:
    def __init__(self, stall_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._stall = stall_seconds
        self._clock = clock
        self._last_progress = clock()
        self._waiting: str | None = None

    def progress(self) -> None:
        self._last_progress = self._clock()

    @contextmanager
    def waiting(self, reason: str) -> Iterator[None]:
        """A known wait: the loop is alive for as long as it lasts."""
        self._waiting = reason
        try:
            yield
        finally:
            self._waiting = None
            self._last_progress = self._clock()

    @property
    def waiting_for(self) -> str | None:
        return self._waiting

    def alive(self) -> bool:
        if self._waiting is not None:
            return True
        return self._clock() - self._last_progress <= self._stall
