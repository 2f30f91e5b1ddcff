"""The outbox as the relay sees it: rows to publish and the outcome of publishing a batch."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

PENDING, DISPATCHED, PARKED = "pending", "dispatched", "parked"


class OutboxRow(NamedTuple):
    """One claimed row. Immutable; a named tuple, not a frozen dataclass, because the relay
    builds hundreds every few milliseconds and a frozen dataclass's `__init__` sets each field
    through `object.__setattr__` (2.5 against 0.6 µs a row)."""

    seq: int
    event_id: str
    event_type: str
    aggregate_name: str
    aggregate_version: int
    payload: bytes
    trace_context: dict[str, str]
    principal: str
    occurred_time: datetime
    attempts: int
    state: str = PENDING
    last_error: str | None = None

    @property
    def trace_id(self) -> str:
        """The trace id of the call that produced the event (from its W3C traceparent)."""
        parts = self.trace_context.get("traceparent", "").split("-")
        return parts[1] if len(parts) == 4 else ""


@dataclass(frozen=True)
class Failure:
    seq: int
    error: str
    # False for transport trouble (NATS down): the row is not at fault and keeps its attempts.
    counts: bool


@dataclass(frozen=True)
class Backlog:
    pending: int
    parked: int
    oldest_pending: datetime | None


@dataclass
class BatchResult:
    """What happened to one claimed batch: the rows acknowledged and the rows that failed."""

    claimed: int = 0
    acked: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def transient_failure(self) -> bool:
        return any(not failure.counts for failure in self.failures)
