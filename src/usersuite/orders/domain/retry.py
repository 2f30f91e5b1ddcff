"""How long the saga waits for billing's reply, and how often it asks again."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff per step: attempt n waits first_wait * multiplier**(n-1), capped.

    `reserve_attempts` bounds ReserveCredit sends before the saga compensates;
    `release_attempts` bounds ReleaseCredit sends before the saga parks (None: never parks,
    since a release cannot be refused and billing will answer once it is reachable).
    """

    first_wait: timedelta = timedelta(seconds=5)
    multiplier: int = 2
    max_wait: timedelta = timedelta(minutes=5)
    reserve_attempts: int = 5
    release_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.first_wait <= timedelta(0) or self.max_wait < self.first_wait:
            raise ValueError("waits must be positive and max_wait at least first_wait")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if self.reserve_attempts < 1 or (
            self.release_attempts is not None and self.release_attempts < 1
        ):
            raise ValueError("attempts must be at least 1")

    def wait(self, attempt: int) -> timedelta:
        """How long attempt `attempt` (from 1) waits for its reply."""
        # Compare before multiplying so a large attempt number cannot overflow timedelta.
        wait = self.first_wait
        for _ in range(attempt - 1):
            if wait >= self.max_wait:
                break
            wait *= self.multiplier
        return min(wait, self.max_wait)
