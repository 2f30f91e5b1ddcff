"""A circuit breaker: after N consecutive UNAVAILABLE or DEADLINE_EXCEEDED calls it opens and
fails calls at once; after a cool-down it lets one probe through (half-open) and closes again when
the probe succeeds. Other errors are answers from a healthy server and count as successes."""

import enum
import time
from collections.abc import Callable

import grpc

from usersuite.client.errors import CircuitOpen

TRIPPING_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._state = State.CLOSED

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._state = State.HALF_OPEN
        return self._state

    def before_call(self) -> None:
        """Raises CircuitOpen unless a call may go out now (at most one probe while half-open)."""
        state = self.state
        if state is State.OPEN or (state is State.HALF_OPEN and self._probing):
            raise CircuitOpen(
                code=grpc.StatusCode.UNAVAILABLE,
                message=f"circuit open after {self._failures} consecutive failures",
                retry_delay=max(0.0, self._opened_at + self.reset_timeout - self._clock()),
            )
        self._probing = state is State.HALF_OPEN

    def record(self, code: grpc.StatusCode) -> None:
        """The outcome of a call that went out."""
        self._probing = False
        if code not in TRIPPING_CODES:
            self._failures = 0
            self._state = State.CLOSED
            return
        self._failures += 1
        if self._state is State.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = State.OPEN
            self._opened_at = self._clock()
