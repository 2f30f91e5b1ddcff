"""What every service's messages carry (the shape of each package's `EventMetadata`), and the
clock and ids that make it: one message id per send, the time of the change."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class EventMetadata:
    """`aggregate_name` is the partition key the relay keeps in order ("users/{id}", or the
    order "orders/{id}" for every message of an order's saga)."""

    event_id: str
    occurred_time: datetime
    aggregate_name: str
    aggregate_version: int
    principal: str = ""


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    """A fresh id: a message's (Nats-Msg-Id; a re-send of a command is a new message), a
    saga's or a command's."""
    return str(uuid.uuid4())
