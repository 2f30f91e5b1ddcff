"""Domain events: what happened to a user, in past tense, with the metadata every event carries."""

from dataclasses import dataclass

from usersuite.platform.domain.events import EventMetadata
from usersuite.users.domain.model import User


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
