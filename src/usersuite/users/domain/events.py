"""Domain events: what happened to a user, in past tense, with the metadata every event carries."""

from dataclasses import dataclass
from datetime import datetime

from usersuite.users.domain.model import User


@dataclass(frozen=True)
class EventMetadata:
    event_id: str
    occurred_time: datetime
    aggregate_name: str
    aggregate_version: int
    principal: str


@dataclass(frozen=True)
class UserCreated:
    metadata: EventMetadata
    user: User


@dataclass(frozen=True)
class UserUpdated:
    metadata: EventMetadata
    user: User
    changed_fields: tuple[str, ...]


@dataclass(frozen=True)
class UserDeleted:
    metadata: EventMetadata
    name: str


DomainEvent = UserCreated | UserUpdated | UserDeleted
