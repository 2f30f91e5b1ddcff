"""Fakes for unit tests: the persistence ports in memory (changes become visible only when a unit
commits), a stepping clock and numbered ids."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self

from usersuite.users.domain.errors import EmailAlreadyExists, UserAlreadyExists
from usersuite.users.domain.events import DomainEvent
from usersuite.users.domain.model import User
from usersuite.users.service.unit_of_work import (
    IdempotencyStore,
    IdempotentResult,
    Outbox,
    UnitOfWork,
    UserRepository,
)


@dataclass
class FakeState:
    """Everything the fake database holds; users keep the sequence number they were added with."""

    users: dict[str, tuple[int, User]] = field(default_factory=dict)
    last_seq: int = 0
    events: list[DomainEvent] = field(default_factory=list)
    requests: dict[str, tuple[str, User | None]] = field(default_factory=dict)

    def copy(self) -> "FakeState":
        # Users and events are frozen, so copying the containers isolates a transaction.
        return FakeState(dict(self.users), self.last_seq, list(self.events), dict(self.requests))


class FakeDatabase:
    """The committed state shared by every unit of work, plus switches to inject failures."""

    def __init__(self) -> None:
        self.committed = FakeState()
        self.commits = 0
        self.rollbacks = 0
        # When set, the next outbox append raises it (after the user row was written).
        self.fail_outbox_with: Exception | None = None

    def uow(self) -> "FakeUnitOfWork":
        return FakeUnitOfWork(self)

    @property
    def users(self) -> list[User]:
        """Committed users in insertion order."""
        return [user for _, user in sorted(self.committed.users.values(), key=lambda r: r[0])]

    @property
    def events(self) -> list[DomainEvent]:
        return list(self.committed.events)

    def user(self, user_id: str) -> User | None:
        row = self.committed.users.get(user_id)
        return row[1] if row else None


class FakeUserRepository(UserRepository):
    def __init__(self, state: Callable[[], FakeState]) -> None:
        self._state = state

    def _email_taken(self, state: FakeState, email: str, except_id: str) -> bool:
        return any(
            user.email.lower() == email.lower() and user.id != except_id
            for _, user in state.users.values()
        )

    async def add(self, user: User) -> None:
        state = self._state()
        if user.id in state.users:
            raise UserAlreadyExists(user.id)
        if self._email_taken(state, user.email, except_id=user.id):
            raise EmailAlreadyExists(user.email)
        state.last_seq += 1
        state.users[user.id] = (state.last_seq, user)

    async def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        row = self._state().users.get(user_id)
        return row[1] if row else None

    async def list_after(self, cursor: int, limit: int) -> list[tuple[int, User]]:
        rows = sorted(self._state().users.values(), key=lambda r: r[0])
        return [row for row in rows if row[0] > cursor][:limit]

    async def update(self, user: User, expected_version: int) -> bool:
        state = self._state()
        row = state.users.get(user.id)
        if row is None or row[1].version != expected_version:
            return False
        if self._email_taken(state, user.email, except_id=user.id):
            raise EmailAlreadyExists(user.email)
        state.users[user.id] = (row[0], user)
        return True

    async def delete(self, user_id: str, expected_version: int) -> bool:
        state = self._state()
        row = state.users.get(user_id)
        if row is None or row[1].version != expected_version:
            return False
        del state.users[user_id]
        return True


class FakeOutbox(Outbox):
    def __init__(self, state: Callable[[], FakeState], db: FakeDatabase) -> None:
        self._state = state
        self._db = db

    async def append(self, event: DomainEvent) -> None:
        if self._db.fail_outbox_with is not None:
            error, self._db.fail_outbox_with = self._db.fail_outbox_with, None
            raise error
        self._state().events.append(event)


class FakeIdempotencyStore(IdempotencyStore):
    def __init__(self, state: Callable[[], FakeState]) -> None:
        self._state = state

    async def claim(self, request_id: str, fingerprint: str) -> IdempotentResult | None:
        requests = self._state().requests
        if request_id not in requests:
            requests[request_id] = (fingerprint, None)
            return None
        earlier_fingerprint, user = requests[request_id]
        if user is None:
            raise RuntimeError(f"request {request_id} was claimed but never completed")
        return IdempotentResult(fingerprint=earlier_fingerprint, user=user)

    async def complete(self, request_id: str, user: User) -> None:
        requests = self._state().requests
        fingerprint, _ = requests[request_id]
        requests[request_id] = (fingerprint, user)


class FakeUnitOfWork(UnitOfWork):
    """One 'transaction': works on a private copy of the committed state until commit()."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._pending: FakeState | None = None
        self.committed = False
        self.users = FakeUserRepository(self._state)
        self.outbox = FakeOutbox(self._state, db)
        self.idempotency = FakeIdempotencyStore(self._state)

    def _state(self) -> FakeState:
        if self._pending is None:
            raise RuntimeError("the unit of work is used outside 'async with'")
        return self._pending

    async def __aenter__(self) -> Self:
        self._pending = self._db.committed.copy()
        return self

    async def commit(self) -> None:
        self._db.committed = self._state().copy()
        self._db.commits += 1
        self.committed = True

    async def rollback(self) -> None:
        # Whatever was not committed is discarded; the unit may go on from the committed state.
        self._pending = self._db.committed.copy()
        self._db.rollbacks += 1


T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
PAGE_TOKEN_KEY = b"unit-test-page-token-key-0123456789"


class SteppingClock:
    """Returns T0, T0+1s, T0+2s, ...: every call is a distinct, predictable instant."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        now = T0 + timedelta(seconds=self.calls)
        self.calls += 1
        return now


class Counter:
    """Numbered ids from a template, so a test can tell which call produced which id."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.issued: list[str] = []

    def __call__(self) -> str:
        value = self.template.format(len(self.issued) + 1)
        self.issued.append(value)
        return value
